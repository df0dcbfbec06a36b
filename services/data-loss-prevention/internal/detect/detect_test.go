package detect

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// found summarises findings as "type:match:detail" for compact assertions.
func found(text string) []string {
	out := []string{}
	for _, f := range Scan(text) {
		out = append(out, f.Type+":"+f.Match+":"+f.Detail)
	}
	return out
}

func TestLuhn(t *testing.T) {
	cases := map[string]bool{
		"4111111111111111": true,
		"4111111111111112": false,
		"79927398713":      true, // the textbook example
		"79927398710":      false,
		"5555555555554444": true,
		"378282246310005":  true,
		"0000000000000000": true, // valid Luhn, but CardBrand rejects it
		"":                 false,
		"0":                false,
		"41111111111111a1": false,
	}
	for in, want := range cases {
		if got := Luhn(in); got != want {
			t.Errorf("Luhn(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCardBrand(t *testing.T) {
	cases := []struct{ digits, brand string }{
		{"4111111111111111", "visa"},
		{"4222222222222", "visa"},       // 13 digits
		{"4111111111111111110", "visa"}, // 19 digits
		{"411111111111111", ""},         // 15-digit 4xxx is not Visa
		{"5105105105105100", "mastercard"},
		{"5555555555554444", "mastercard"},
		{"2221000000000009", "mastercard"},
		{"2720990000000007", "mastercard"},
		{"2220990000000000", ""},
		{"2721000000000000", ""},
		{"5605105105105100", ""},
		{"555555555555444", ""}, // 15-digit 55 is not Mastercard
		{"378282246310005", "amex"},
		{"341111111111111", "amex"},
		{"3782822463100050", ""}, // 16-digit 37 is not Amex
		{"6011111111111117", "discover"},
		{"6441111111111111", "discover"},
		{"6511111111111111", "discover"},
		{"6431111111111111", ""},
		{"3530111333300000", "jcb"},
		{"3589111111111111", "jcb"},
		{"3527111111111111", ""},
		{"30569309025904", "diners"},
		{"38520000023237", "diners"},
		{"30669309025904", ""},
		{"6200000000000005", "unionpay"},
		{"1234567812345670", ""},
		{"0000000000000000", ""},
	}
	for _, c := range cases {
		if got := CardBrand(c.digits); got != c.brand {
			t.Errorf("CardBrand(%s) = %q, want %q", c.digits, got, c.brand)
		}
	}
}

func TestCreditCards(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"card 4111111111111111 exp 12/27", []string{"credit_card:4111111111111111:visa"}},
		{"4111 1111 1111 1111", []string{"credit_card:4111 1111 1111 1111:visa"}},
		{"amex 3782-822463-10005.", []string{"credit_card:3782-822463-10005:amex"}},
		{"mixed 5555-5555 5555-4444", []string{"credit_card:5555-5555 5555-4444:mastercard"}},
		// a longer digit run around a card: the card is still found
		{"order 12 4111 1111 1111 1111 qty 3", []string{"credit_card:4111 1111 1111 1111:visa"}},
		{"4111 1111 1111 1111 2027", []string{"credit_card:4111 1111 1111 1111:visa"}},
		{"two: 4111111111111111, 5105105105105100", []string{"credit_card:4111111111111111:visa", "credit_card:5105105105105100:mastercard"}},
		{"back to back 4111 1111 1111 1111 5105 1051 0510 5100", []string{"credit_card:4111 1111 1111 1111:visa", "credit_card:5105 1051 0510 5100:mastercard"}},
		{"bad check digit 4111111111111112", []string{}},
		{"luhn-valid but no issuer 1234567812345670", []string{}},
		{"zeros 0000 0000 0000 0000", []string{}},
		{"embedded in a longer number 41111111111111110000", []string{}},
		{"embedded in a word x4111111111111111", []string{}},
		{"too short 4111 1111 1111", []string{}},
		{"double separator 4111  1111 1111 1111", []string{}},
		{"phone +1 415-555-0123, date 2024-01-15", []string{}},
	}
	for _, c := range cases {
		if got := found(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.text, got, c.want)
		}
	}
}

func TestLongDigitRunsScanInLinearTime(t *testing.T) {
	// 300k single-digit groups: quadratic group pairing would take minutes
	text := strings.Repeat("1 ", 300000) + "4111 1111 1111 1111"
	start := time.Now()
	fs := Scan(text)
	if len(fs) != 1 || fs[0].Detail != "visa" {
		t.Fatalf("findings = %d", len(fs))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("scan took %v", d)
	}
	// a 20-digit group cannot be part of a card, the card after it still is
	if got := found("12345678901234567890 4111111111111111"); len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

func TestValidIBAN(t *testing.T) {
	cases := map[string]bool{
		"GB82WEST12345698765432":      true,
		"DE89370400440532013000":      true,
		"FR1420041010050500013M02606": true,
		"NL91ABNA0417164300":          true,
		"BE68539007547034":            true,
		"CH9300762011623852957":       true,
		"NO9386011117947":             true,
		"GB82WEST12345698765433":      false, // check digits do not match
		"GB28WEST12345698765432":      false,
		"GB82WEST1234569876543":       false, // one short for GB
		"DE8937040044053201300":       false,
		"ZZ82WEST12345698765432":      false, // no such country
		"GB82west12345698765432":      false, // lower case
		"GB82":                        false,
		"":                            false,
	}
	for in, want := range cases {
		if got := ValidIBAN(in); got != want {
			t.Errorf("ValidIBAN(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIBANs(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"pay to GB82WEST12345698765432 today", []string{"iban:GB82WEST12345698765432:GB"}},
		{"IBAN: GB82 WEST 1234 5698 7654 32 AND THEN", []string{"iban:GB82 WEST 1234 5698 7654 32:GB"}},
		{"DE89 3704 0044 0532 0130 00.", []string{"iban:DE89 3704 0044 0532 0130 00:DE"}},
		{"FR14 2004 1010 0505 0001 3M02 606", []string{"iban:FR14 2004 1010 0505 0001 3M02 606:FR"}},
		{"GB82WEST12345698765433", []string{}},       // bad check digits
		{"GB82WEST123456987654321", []string{}},      // too long: runs on
		{"GB82 WEST 1234 5698 7654 3", []string{}},   // too short
		{"GB82  WEST 1234 5698 7654 32", []string{}}, // double space breaks it
		{"XGB82WEST12345698765432", []string{}},      // not at a word boundary
		{"US12 3456 7890 1234 5678 90", []string{}},  // no IBAN for US
		{"DE89370400440532013000de", []string{}},     // runs into a word
		{"two NL91ABNA0417164300 BE68539007547034", []string{"iban:NL91ABNA0417164300:NL", "iban:BE68539007547034:BE"}},
	}
	for _, c := range cases {
		if got := found(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.text, got, c.want)
		}
	}
}

func TestValidSSN(t *testing.T) {
	cases := map[string]bool{
		"536221234": true,
		"001010001": true,
		"665999999": true,
		"899999999": true,
		"000221234": false, // area 000
		"666221234": false, // area 666
		"900221234": false, // area 900-999 (ITINs)
		"999221234": false,
		"536001234": false, // group 00
		"536220000": false, // serial 0000
		"078051120": false, // Woolworth wallet card
		"219099999": false,
		"123456789": false,
		"53622123":  false,
		"53622123x": false,
	}
	for in, want := range cases {
		if got := ValidSSN(in); got != want {
			t.Errorf("ValidSSN(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSSNs(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"SSN 536-22-1234.", []string{"us_ssn:536-22-1234:"}},
		{"ssn: 536 22 1234", []string{"us_ssn:536 22 1234:"}},
		{"536-22 1234", []string{}},  // mixed separators
		{"536221234", []string{}},    // bare nine digits are too ambiguous
		{"666-22-1234", []string{}},  // invalid area
		{"1536-22-1234", []string{}}, // part of a longer number
		{"078-05-1120", []string{}},
	}
	for _, c := range cases {
		if got := found(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.text, got, c.want)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	gh := "ghp_" + strings.Repeat("a1B2c3", 6)
	key := "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
	cases := []struct {
		text string
		want []string
	}{
		{"aws AKIAIOSFODNN7EXAMPLE", []string{"api_key:AKIAIOSFODNN7EXAMPLE:aws_access_key_id"}},
		{"AKIAIOSFODNN7EXAMPL", []string{}}, // one short
		{"token " + gh, []string{"api_key:" + gh + ":github_token"}},
		{"ghx_" + strings.Repeat("a1B2c3", 6), []string{}},
		{"xoxb-1234567890-abcdefghij", []string{"api_key:xoxb-1234567890-abcdefghij:slack_token"}},
		{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", []string{"api_key:sk_live_4eC39HqLyjWDarjtT1zdp7dc:stripe_secret_key"}},
		{"sk_test_4eC39HqLyjWDarjtT1zdp7dc", []string{}}, // test keys are not secrets
		{"AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", []string{"api_key:AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY:google_api_key"}},
		{"x\n" + key + "\ny", []string{"api_key:" + key + ":private_key"}},
		{"-----BEGIN PRIVATE KEY-----\nMIIE", []string{"api_key:-----BEGIN PRIVATE KEY-----\nMIIE:private_key"}}, // unterminated: to the end
		{"-----BEGIN PUBLIC KEY-----\nMIIB", []string{}},
		{`api_key = "q8Zr2LmX4vT9wKpB7nYc"`, []string{"api_key:q8Zr2LmX4vT9wKpB7nYc:assigned_secret"}},
		{`{"client_secret": "Zm9vYmFyLWJhei0xMjM0NTY3ODkw"}`, []string{"api_key:Zm9vYmFyLWJhei0xMjM0NTY3ODkw:assigned_secret"}},
		{"PASSWORD=Tr0ub4dor&3xyzABC123", []string{}}, // '&' ends the value at 9 chars: too short
		{"DB_PASSWORD: hX7#", []string{}},
		{"DB_PASSWORD=q8Zr2LmX4vT9wKpB7nYc", []string{"api_key:q8Zr2LmX4vT9wKpB7nYc:assigned_secret"}},
		{"mysecret=q8Zr2LmX4vT9wKpB7nYc", []string{}}, // not a secret-like name
		{`password = "changemechangeme"`, []string{}}, // low entropy placeholder
		{`secret: xxxxxxxxxxxxxxxxxxxxxxxx`, []string{}},
		{`the secret of q8Zr2LmX4vT9wKpB7nYc`, []string{}}, // no assignment
	}
	for _, c := range cases {
		if got := found(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.text, got, c.want)
		}
	}
}

func TestEntropy(t *testing.T) {
	cases := []struct {
		s    string
		want float64
	}{
		{"", 0},
		{"aaaa", 0},
		{"ab", 1},
		{"abcd", 2},
		{"aabb", 1},
		{"0123456789abcdef", 4},
		{"ééaa", 1}, // per character, not per byte
	}
	for _, c := range cases {
		if got := Entropy(c.s); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Entropy(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestScanMixedAndOverlaps(t *testing.T) {
	text := "Customer 536-22-1234 paid with 4111 1111 1111 1111 from GB82 WEST 1234 5698 7654 32; " +
		"api_key=q8Zr2LmX4vT9wKpB7nYc"
	fs := Scan(text)
	var types []string
	for i, f := range fs {
		types = append(types, f.Type)
		if text[f.Start:f.End] != f.Match {
			t.Errorf("finding %d offsets do not match its text", i)
		}
		if i > 0 && f.Start < fs[i-1].End {
			t.Errorf("findings %d and %d overlap", i-1, i)
		}
	}
	if want := []string{SSN, CreditCard, IBAN, APIKey}; !reflect.DeepEqual(types, want) {
		t.Errorf("types = %v, want %v", types, want)
	}
	if c := Count(fs); c[SSN] != 1 || c[CreditCard] != 1 || c[IBAN] != 1 || c[APIKey] != 1 || len(c) != 4 {
		t.Errorf("Count = %v", c)
	}
	// An AWS key id assigned to a secret name is one finding, not two: on
	// the same span the specific token kind wins over the generic one...
	fs = Scan("aws_secret_key=AKIAIOSFODNN7EXAMPLE")
	if len(fs) != 1 || fs[0].Detail != "aws_access_key_id" {
		t.Errorf("same span: %+v", fs)
	}
	// ...and of two findings starting at the same byte, the longer wins.
	fs = Scan("SECRET=AKIAIOSFODNN7EXAMPLE/Q9zX")
	if len(fs) != 1 || fs[0].Detail != "assigned_secret" || fs[0].Match != "AKIAIOSFODNN7EXAMPLE/Q9zX" {
		t.Errorf("longer span: %+v", fs)
	}
	if fs := Scan("nothing to see here"); len(fs) != 0 {
		t.Errorf("clean text: %+v", fs)
	}
}
