// Package detect finds sensitive data in text: payment card numbers
// (Luhn and issuer checked), IBANs (length and mod-97 checked), US social
// security numbers (invalid ranges excluded) and API keys / secrets
// (known token formats, and high-entropy values assigned to secret-like
// names).
//
// Every candidate a pattern finds is validated before it is reported, so
// that the policy built on top can block on a single hit without drowning
// users in false positives.
package detect

import (
	"math"
	"regexp"
	"sort"
	"strings"
)

// Detector names, as they appear in findings and policies.
const (
	CreditCard = "credit_card"
	IBAN       = "iban"
	SSN        = "us_ssn"
	APIKey     = "api_key"
)

// Detectors lists every detector name.
var Detectors = []string{CreditCard, IBAN, SSN, APIKey}

// Finding is one validated match. Start and End are byte offsets into the
// scanned text. The raw match is deliberately not serialised.
type Finding struct {
	Type   string `json:"type"`
	Start  int    `json:"start"`
	End    int    `json:"end"`
	Detail string `json:"detail,omitempty"`
	Masked string `json:"masked"`
	Match  string `json:"-"`
}

// Scan runs every detector over text and returns the findings ordered by
// position. Overlapping findings are resolved in favour of the one that
// starts first (the longer on a tie), so each byte is reported at most once.
func Scan(text string) []Finding {
	var all []Finding
	all = append(all, creditCards(text)...)
	all = append(all, ibans(text)...)
	all = append(all, ssns(text)...)
	all = append(all, apiKeys(text)...)
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].Start != all[j].Start {
			return all[i].Start < all[j].Start
		}
		return all[i].End > all[j].End
	})
	out := make([]Finding, 0, len(all))
	end := -1
	for _, f := range all {
		if f.Start < end {
			continue
		}
		f.Match = text[f.Start:f.End]
		f.Masked = Mask(f.Type, f.Match)
		out = append(out, f)
		end = f.End
	}
	return out
}

// Count tallies findings per detector.
func Count(findings []Finding) map[string]int {
	counts := map[string]int{}
	for _, f := range findings {
		counts[f.Type]++
	}
	return counts
}

// ---- payment cards -------------------------------------------------------

// A run of 13-19 digits, optionally grouped by single spaces or dashes.
var cardRE = regexp.MustCompile(`\b\d+(?:[ -]\d+)*\b`)

func creditCards(text string) []Finding {
	var out []Finding
	for _, loc := range cardRE.FindAllStringIndex(text, -1) {
		out = append(out, cardsIn(text, loc[0], loc[1])...)
	}
	return out
}

// cardsIn finds card numbers among the digit groups of text[start:end]. A
// number may be any contiguous sequence of groups ("Order 12 4111 1111
// 1111 1111 x2"), so sequences are tried leftmost first, longest first.
func cardsIn(text string, start, end int) []Finding {
	type group struct{ start, end int }
	var groups []group
	for i := start; i < end; {
		j := i
		for j < end && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		groups = append(groups, group{i, j})
		i = j + 1 // skip the separator
	}
	var out []Finding
	for i := 0; i < len(groups); i++ {
		// the last group a number of at most 19 digits starting at group i
		// can reach: this bounds the work per group, so a long table of
		// numbers scans in linear time
		n, last := 0, i-1
		for k := i; k < len(groups) && n+groups[k].end-groups[k].start <= 19; k++ {
			n += groups[k].end - groups[k].start
			last = k
		}
		for j := last; j >= i; j-- {
			if n >= 13 {
				digits := onlyDigits(text[groups[i].start:groups[j].end])
				if brand := CardBrand(digits); brand != "" && Luhn(digits) {
					out = append(out, Finding{Type: CreditCard, Start: groups[i].start, End: groups[j].end, Detail: brand})
					i = j
					break
				}
			}
			n -= groups[j].end - groups[j].start
		}
	}
	return out
}

// Luhn reports whether a string of digits passes the Luhn (mod 10) check.
func Luhn(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// CardBrand identifies the card scheme from the issuer prefix and length,
// or returns "" when the number matches no scheme: that rules out most
// Luhn-valid numbers that are not cards (order numbers, zeros).
func CardBrand(digits string) string {
	n := len(digits)
	prefix := func(k int) int {
		if n < k {
			return -1
		}
		v := 0
		for _, c := range digits[:k] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	p2, p3, p4 := prefix(2), prefix(3), prefix(4)
	switch {
	case (p2 == 34 || p2 == 37) && n == 15:
		return "amex"
	case digits[0] == '4' && (n == 13 || n == 16 || n == 19):
		return "visa"
	case ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16:
		return "mastercard"
	case (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) && n >= 16:
		return "discover"
	case p4 >= 3528 && p4 <= 3589 && n >= 16:
		return "jcb"
	case ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) && n == 14:
		return "diners"
	case p2 == 62 && n >= 16:
		return "unionpay"
	}
	return ""
}

func onlyDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ---- IBANs ---------------------------------------------------------------

// ibanLengths is the IBAN length per country (SWIFT IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
	"LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
	"NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
	"SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
	"TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

var ibanStartRE = regexp.MustCompile(`\b[A-Z]{2}\d{2}`)

func ibans(text string) []Finding {
	var out []Finding
	for _, loc := range ibanStartRE.FindAllStringIndex(text, -1) {
		country := text[loc[0] : loc[0]+2]
		want, ok := ibanLengths[country]
		if !ok {
			continue
		}
		// Collect exactly `want` characters, allowing the single spaces of
		// the printed form ("GB82 WEST 1234 ..."), then require a boundary.
		var b strings.Builder
		i := loc[0]
		for i < len(text) && b.Len() < want {
			c := text[i]
			switch {
			case isUpperAlnum(c):
				b.WriteByte(c)
				i++
				continue
			case c == ' ' && b.Len() > 0 && i+1 < len(text) && isUpperAlnum(text[i+1]):
				i++
				continue
			}
			break
		}
		if b.Len() != want || (i < len(text) && isAlnum(text[i])) {
			continue
		}
		if ValidIBAN(b.String()) {
			out = append(out, Finding{Type: IBAN, Start: loc[0], End: i, Detail: country})
		}
	}
	return out
}

// ValidIBAN checks an IBAN (no spaces, upper case): the country's length
// and the ISO 13616 mod-97 check (rearranged, letters as 10-35, == 1).
func ValidIBAN(iban string) bool {
	if len(iban) < 5 || ibanLengths[iban[:2]] != len(iban) {
		return false
	}
	rearranged := iban[4:] + iban[:4]
	rem := 0
	for i := 0; i < len(rearranged); i++ {
		c := rearranged[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func isUpperAlnum(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') }

func isAlnum(c byte) bool { return isUpperAlnum(c) || (c >= 'a' && c <= 'z') }

// ---- US social security numbers ----------------------------------------

var ssnRE = regexp.MustCompile(`\b\d{3}[- ]\d{2}[- ]\d{4}\b`)

// Numbers that were published as examples and never belonged to anyone
// (the Woolworth wallet card, a 1940s advertisement, the textbook one).
var sampleSSNs = map[string]bool{"078051120": true, "219099999": true, "123456789": true}

func ssns(text string) []Finding {
	var out []Finding
	for _, loc := range ssnRE.FindAllStringIndex(text, -1) {
		m := text[loc[0]:loc[1]]
		if m[3] != m[6] { // "123-45 6789": mixed separators are not an SSN
			continue
		}
		if ValidSSN(m[0:3] + m[4:6] + m[7:]) {
			out = append(out, Finding{Type: SSN, Start: loc[0], End: loc[1]})
		}
	}
	return out
}

// ValidSSN reports whether nine digits could be an issued SSN: area not
// 000, 666 or 900-999, group not 00, serial not 0000, and not a known
// sample number.
func ValidSSN(d string) bool {
	if len(d) != 9 || onlyDigits(d) != d {
		return false
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	switch {
	case area == "000", area == "666", area[0] == '9':
		return false
	case group == "00", serial == "0000":
		return false
	}
	return !sampleSSNs[d]
}

// ---- API keys and secrets ----------------------------------------------

var tokenPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"aws_access_key_id", regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"github_token", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36}\b`)},
	{"slack_token", regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,72}`)},
	{"stripe_secret_key", regexp.MustCompile(`\b[rs]k_live_[A-Za-z0-9]{20,99}\b`)},
	{"google_api_key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`)},
	{"private_key", regexp.MustCompile(`(?s)-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z]+ )?PRIVATE KEY-----|\z)`)},
}

// A secret-like name assigned a value: `api_key = "..."`, `"auth_token":
// "..."`, `DB_PASSWORD=...` (a prefix joined by '_' is allowed). Only the
// value (group 1) is reported.
var assignmentRE = regexp.MustCompile(`(?i)(?:\b|_)(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|client[_-]?secret|password|passwd)["']?\s*[:=]\s*["']?([A-Za-z0-9_\-+/=.]{16,})`)

// MinEntropy is the Shannon entropy (bits per character) a value assigned
// to a secret-like name must reach: random tokens score 4 or more,
// placeholders like "changemechangeme" or "xxxxxxxxxxxxxxxx" far less.
const MinEntropy = 3.5

func apiKeys(text string) []Finding {
	var out []Finding
	for _, p := range tokenPatterns {
		for _, loc := range p.re.FindAllStringIndex(text, -1) {
			out = append(out, Finding{Type: APIKey, Start: loc[0], End: loc[1], Detail: p.kind})
		}
	}
	for _, loc := range assignmentRE.FindAllStringSubmatchIndex(text, -1) {
		if Entropy(text[loc[2]:loc[3]]) >= MinEntropy {
			out = append(out, Finding{Type: APIKey, Start: loc[2], End: loc[3], Detail: "assigned_secret"})
		}
	}
	return out
}

// Entropy is the Shannon entropy of s in bits per character.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	freq := map[rune]int{}
	n := 0
	for _, r := range s {
		freq[r]++
		n++
	}
	h := 0.0
	for _, c := range freq {
		p := float64(c) / float64(n)
		h -= p * math.Log2(p)
	}
	return h
}
