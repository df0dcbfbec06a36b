package detect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMask(t *testing.T) {
	cases := []struct{ kind, in, want string }{
		{CreditCard, "4111 1111 1111 1111", "**** **** **** 1111"},
		{CreditCard, "3782-822463-10005", "****-******-*0005"},
		{CreditCard, "4111111111111111", "************1111"},
		{IBAN, "GB82 WEST 1234 5698 7654 32", "**** **** **** **** **** **"},
		{SSN, "536-22-1234", "***-**-****"},
		{APIKey, "sk_live_abc", "**_****_***"},
		{APIKey, "ключ", "****"},
		{APIKey, strings.Repeat("a", 50), strings.Repeat("*", 40) + "…"},
	}
	for _, c := range cases {
		if got := Mask(c.kind, c.in); got != c.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", c.kind, c.in, got, c.want)
		}
	}
}

func TestRedact(t *testing.T) {
	text := "SSN 536-22-1234, card 4111 1111 1111 1111, key api_key=q8Zr2LmX4vT9wKpB7nYc."
	got := Redact(text, Scan(text))
	want := "SSN ***-**-****, card **** **** **** 1111, key api_key=********************."
	if got != want {
		t.Errorf("Redact:\n got %q\nwant %q", got, want)
	}
	if clean := "no secrets"; Redact(clean, Scan(clean)) != clean {
		t.Error("clean text changed")
	}
}

func TestRedactLongMatchInFull(t *testing.T) {
	body := strings.Repeat("MIIEpAIBAAKCAQEA", 10)
	text := "k: -----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY----- done"
	fs := Scan(text)
	if len(fs) != 1 {
		t.Fatalf("findings = %+v", fs)
	}
	if utf8.RuneCountInString(fs[0].Masked) != maxMasked+1 {
		t.Errorf("finding sample not truncated: %q", fs[0].Masked)
	}
	got := Redact(text, fs)
	if strings.Contains(got, "MIIE") || !strings.HasSuffix(got, "----- done") || len(got) != len(text) {
		t.Errorf("private key not fully redacted: %q", got)
	}
}

func TestRedactSkipsBadFindings(t *testing.T) {
	text := "abc 536-22-1234"
	fs := []Finding{
		{Type: SSN, Start: 4, End: 15},
		{Type: SSN, Start: 5, End: 8},   // overlaps the previous one
		{Type: SSN, Start: 10, End: 99}, // past the end
	}
	if got := Redact(text, fs); got != "abc ***-**-****" {
		t.Errorf("got %q", got)
	}
	if got := Redact(text, []Finding{{Type: SSN, Start: 8, End: 4}}); got != text {
		t.Errorf("inverted span changed text: %q", got)
	}
}
