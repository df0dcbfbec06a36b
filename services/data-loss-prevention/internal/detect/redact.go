package detect

import (
	"strings"
	"unicode"
)

// maxMasked bounds the masked sample in a finding; a redacted private key
// block is still shown in full by Redact.
const maxMasked = 40

// Mask hides a match for display in a finding: like Redact's masking but
// cut to a short sample, so a multi-kilobyte key block stays small.
func Mask(kind, match string) string {
	runes := []rune(mask(kind, match))
	if len(runes) > maxMasked {
		return string(runes[:maxMasked]) + "…"
	}
	return string(runes)
}

// mask hides a match: every letter and digit becomes '*', separators are
// kept so the shape stays recognisable. Card numbers keep their last four
// digits (PCI DSS allows showing them), so "4111 1111 1111 1111" becomes
// "**** **** **** 1111".
func mask(kind, match string) string {
	keep := 0
	if kind == CreditCard {
		keep = 4
	}
	runes := []rune(match)
	for i := len(runes) - 1; i >= 0; i-- {
		r := runes[i]
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		if keep > 0 {
			keep--
			continue
		}
		runes[i] = '*'
	}
	return string(runes)
}

// Redact returns text with every finding masked in place. Findings must
// come from Scan over the same text (ordered, non-overlapping); any that
// fall outside the text or overlap an earlier one are skipped.
func Redact(text string, findings []Finding) string {
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for _, f := range findings {
		if f.Start < pos || f.End > len(text) || f.Start > f.End {
			continue
		}
		b.WriteString(text[pos:f.Start])
		b.WriteString(mask(f.Type, text[f.Start:f.End]))
		pos = f.End
	}
	b.WriteString(text[pos:])
	return b.String()
}
