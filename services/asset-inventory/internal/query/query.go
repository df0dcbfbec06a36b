// Package query is the inventory's filter language:
//
//	type=server AND criticality>=high
//	(owner=alice@corp.com OR tag=pci) AND NOT environment=dev
//	name~web
//
// Comparisons are field OP value with OP one of = != < <= > >= and ~
// (contains). Values are bare words or double-quoted strings (with \" and
// \\ escapes). AND binds tighter than OR; NOT binds tightest; keywords are
// case-insensitive. Text comparisons ignore case. Ordering operators work
// only on ordinal fields (criticality), whose values are checked against
// the field's levels when the query is compiled, so a typo is an error
// rather than a filter that silently matches nothing.
package query

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is how a field compares.
type Kind int

// Field kinds.
const (
	Text    Kind = iota // one string; = != ~
	Ordinal             // one of Levels, ordered; all operators but ~
	Set                 // many strings; = means "contains an element equal to"
)

// Field describes one queryable field.
type Field struct {
	Kind   Kind
	Levels []string // Ordinal only, lowest first
}

// Schema maps field names to their descriptions.
type Schema map[string]Field

// Record is what a query is evaluated against: the values of a field
// (one for Text and Ordinal, any number for Set).
type Record interface {
	Values(field string) []string
}

// Error is a syntax or semantic error at a byte offset of the query.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("query: at %d: %s", e.Pos, e.Msg) }

// MaxLen and MaxDepth bound what a caller can make the parser do.
const (
	MaxLen   = 4096
	MaxDepth = 32
)

// Query is a compiled filter.
type Query struct {
	src  string
	root node
}

// String returns the source text.
func (q *Query) String() string { return q.src }

// Match reports whether r satisfies the query.
func (q *Query) Match(r Record) bool { return q.root.eval(r) }

// Compile parses src against schema. An empty (or blank) query matches
// everything.
func Compile(src string, schema Schema) (*Query, error) {
	if len(src) > MaxLen {
		return nil, &Error{0, fmt.Sprintf("longer than %d bytes", MaxLen)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 { // only EOF
		return &Query{src: src, root: always{}}, nil
	}
	p := &parser{toks: toks, schema: schema}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &Error{t.pos, fmt.Sprintf("unexpected %s", t)}
	}
	return &Query{src: src, root: root}, nil
}

// ---- lexer

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tOp
	tLParen
	tRParen
	tAnd
	tOr
	tNot
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("_-.:@/*+", c) >= 0
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == '=' || c == '~':
			toks = append(toks, token{tOp, string(c), i})
			i++
		case c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, token{tOp, s[i : i+2], i})
				i += 2
			} else if c == '!' {
				return nil, &Error{i, `"!" must be followed by "=" (use NOT to negate)`}
			} else {
				toks = append(toks, token{tOp, string(c), i})
				i++
			}
		case c == '"':
			var b strings.Builder
			start := i
			i++
			for {
				if i >= len(s) {
					return nil, &Error{start, "unterminated string"}
				}
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{tString, b.String(), start})
		case isWordByte(c):
			start := i
			for i < len(s) && isWordByte(s[i]) {
				i++
			}
			w := s[start:i]
			kind := tWord
			switch strings.ToUpper(w) {
			case "AND":
				kind = tAnd
			case "OR":
				kind = tOr
			case "NOT":
				kind = tNot
			}
			toks = append(toks, token{kind, w, start})
		default:
			return nil, &Error{i, fmt.Sprintf("unexpected character %q", c)}
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}

// ---- parser

type parser struct {
	toks   []token
	i      int
	schema Schema
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) or(depth int) (node, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = orNode{left, right}
	}
	return left, nil
}

func (p *parser) and(depth int) (node, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		p.next()
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = andNode{left, right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (node, error) {
	t := p.peek()
	if depth > MaxDepth {
		return nil, &Error{t.pos, fmt.Sprintf("nested deeper than %d", MaxDepth)}
	}
	switch t.kind {
	case tNot:
		p.next()
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case tLParen:
		p.next()
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != tRParen {
			return nil, &Error{r.pos, fmt.Sprintf("expected \")\", got %s", r)}
		}
		return x, nil
	case tWord:
		return p.comparison()
	}
	return nil, &Error{t.pos, fmt.Sprintf("expected a comparison, got %s", t)}
}

func (p *parser) comparison() (node, error) {
	ft := p.next()
	name := strings.ToLower(ft.text)
	field, ok := p.schema[name]
	if !ok {
		return nil, &Error{ft.pos, fmt.Sprintf("unknown field %q (fields: %s)", ft.text, p.fieldNames())}
	}
	op := p.next()
	if op.kind != tOp {
		return nil, &Error{op.pos, fmt.Sprintf("expected an operator after %q, got %s", ft.text, op)}
	}
	vt := p.next()
	if vt.kind != tWord && vt.kind != tString {
		return nil, &Error{vt.pos, fmt.Sprintf("expected a value after %s, got %s", op.text, vt)}
	}
	c := cmpNode{field: name, kind: field.Kind, op: op.text, value: vt.text}
	switch field.Kind {
	case Ordinal:
		if op.text == "~" {
			return nil, &Error{op.pos, fmt.Sprintf("%q is ordinal: ~ is not allowed", ft.text)}
		}
		c.rank = indexFold(field.Levels, vt.text)
		if c.rank < 0 {
			return nil, &Error{vt.pos, fmt.Sprintf("%q is not a %s level (levels: %s)", vt.text, name, strings.Join(field.Levels, ", "))}
		}
		c.levels = field.Levels
	default:
		if op.text != "=" && op.text != "!=" && op.text != "~" {
			return nil, &Error{op.pos, fmt.Sprintf("%s is not ordered: only =, != and ~ apply", name)}
		}
	}
	return c, nil
}

func (p *parser) fieldNames() string {
	names := make([]string, 0, len(p.schema))
	for n := range p.schema {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func indexFold(levels []string, v string) int {
	for i, l := range levels {
		if strings.EqualFold(l, v) {
			return i
		}
	}
	return -1
}

// ---- evaluation

type node interface{ eval(Record) bool }

type always struct{}

func (always) eval(Record) bool { return true }

type andNode struct{ l, r node }

func (n andNode) eval(rec Record) bool { return n.l.eval(rec) && n.r.eval(rec) }

type orNode struct{ l, r node }

func (n orNode) eval(rec Record) bool { return n.l.eval(rec) || n.r.eval(rec) }

type notNode struct{ x node }

func (n notNode) eval(rec Record) bool { return !n.x.eval(rec) }

type cmpNode struct {
	field  string
	kind   Kind
	op     string
	value  string
	rank   int
	levels []string
}

func (n cmpNode) eval(rec Record) bool {
	vals := rec.Values(n.field)
	switch n.kind {
	case Ordinal:
		if len(vals) == 0 {
			return n.op == "!=" // an unset level equals nothing
		}
		r := indexFold(n.levels, vals[0])
		if r < 0 {
			return n.op == "!="
		}
		switch n.op {
		case "=":
			return r == n.rank
		case "!=":
			return r != n.rank
		case "<":
			return r < n.rank
		case "<=":
			return r <= n.rank
		case ">":
			return r > n.rank
		default: // ">="
			return r >= n.rank
		}
	case Set:
		if n.op == "!=" { // "tag!=pci": no element is pci
			return !n.anyEqual(vals)
		}
		for _, v := range vals {
			if textMatch(n.op, v, n.value) {
				return true
			}
		}
		return false
	}
	v := ""
	if len(vals) > 0 {
		v = vals[0]
	}
	if n.op == "!=" {
		return !strings.EqualFold(v, n.value)
	}
	return textMatch(n.op, v, n.value)
}

func (n cmpNode) anyEqual(vals []string) bool {
	for _, v := range vals {
		if strings.EqualFold(v, n.value) {
			return true
		}
	}
	return false
}

// textMatch applies = or ~ to one value, ignoring case.
func textMatch(op, have, want string) bool {
	if op == "~" {
		return strings.Contains(strings.ToLower(have), strings.ToLower(want))
	}
	return strings.EqualFold(have, want)
}
