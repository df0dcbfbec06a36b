// Package policy turns detector hits into an action: allow, warn or block.
//
// Each detector has a warn threshold and a block threshold (a count of
// hits; 0 means never). The most severe action over all detectors wins,
// and every threshold that was reached is given as a reason.
//
// Policies are written as text so they fit in an environment variable:
//
//	credit_card=warn:1,block:5; us_ssn=warn:1,block:3; api_key=block:1
package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Action is a policy outcome; higher is more severe.
type Action int

// Actions, least severe first.
const (
	Allow Action = iota
	Warn
	Block
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Warn:
		return "warn"
	case Block:
		return "block"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// MarshalJSON writes the action's name.
func (a Action) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// Rule holds one detector's thresholds; 0 disables a threshold.
type Rule struct {
	WarnAt  int
	BlockAt int
}

// Policy maps detector names to rules. Detectors without a rule never
// affect the action.
type Policy map[string]Rule

// Default is the platform's policy: a single leaked secret blocks; single
// personal identifiers warn (the user may be sending their own), bulk
// ones block; IBANs are routinely shared for payments, so only a list of
// them blocks.
func Default() Policy {
	return Policy{
		"credit_card": {WarnAt: 1, BlockAt: 5},
		"us_ssn":      {WarnAt: 1, BlockAt: 3},
		"iban":        {WarnAt: 1, BlockAt: 20},
		"api_key":     {BlockAt: 1},
	}
}

// Parse reads a policy in the text form above and applies it on top of
// base: detectors it names get the given rule (unnamed thresholds are 0),
// others keep base's. known lists the valid detector names.
func Parse(text string, base Policy, known []string) (Policy, error) {
	out := Policy{}
	for k, v := range base {
		out[k] = v
	}
	valid := map[string]bool{}
	for _, k := range known {
		valid[k] = true
	}
	for _, clause := range strings.Split(text, ";") {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			continue
		}
		name, spec, ok := strings.Cut(clause, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("policy: %q: want detector=action:count,...", clause)
		}
		if !valid[name] {
			return nil, fmt.Errorf("policy: unknown detector %q (known: %s)", name, strings.Join(known, ", "))
		}
		var rule Rule
		seen := map[string]bool{}
		for _, part := range strings.Split(spec, ",") {
			action, count, ok := strings.Cut(strings.TrimSpace(part), ":")
			action = strings.TrimSpace(action)
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("policy: %s: %q: want action:count with count >= 0", name, part)
			}
			if seen[action] {
				return nil, fmt.Errorf("policy: %s: %s given twice", name, action)
			}
			seen[action] = true
			switch action {
			case "warn":
				rule.WarnAt = n
			case "block":
				rule.BlockAt = n
			default:
				return nil, fmt.Errorf("policy: %s: unknown action %q (want warn or block)", name, action)
			}
		}
		if rule.WarnAt > 0 && rule.BlockAt > 0 && rule.BlockAt < rule.WarnAt {
			return nil, fmt.Errorf("policy: %s: block threshold %d is below warn threshold %d", name, rule.BlockAt, rule.WarnAt)
		}
		out[name] = rule
	}
	return out, nil
}

// String renders the policy in its text form, detectors sorted.
func (p Policy) String() string {
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	clauses := make([]string, 0, len(names))
	for _, k := range names {
		var parts []string
		if r := p[k]; r.WarnAt > 0 {
			parts = append(parts, "warn:"+strconv.Itoa(r.WarnAt))
		}
		if r := p[k]; r.BlockAt > 0 {
			parts = append(parts, "block:"+strconv.Itoa(r.BlockAt))
		}
		if len(parts) == 0 {
			parts = []string{"warn:0"}
		}
		clauses = append(clauses, k+"="+strings.Join(parts, ","))
	}
	return strings.Join(clauses, "; ")
}

// Decision is the outcome of evaluating a policy.
type Decision struct {
	Action  Action   `json:"action"`
	Reasons []string `json:"reasons"`
}

// Evaluate decides on the per-detector hit counts.
func (p Policy) Evaluate(counts map[string]int) Decision {
	d := Decision{Action: Allow, Reasons: []string{}}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		n, rule := counts[name], p[name]
		var action Action
		var threshold int
		switch {
		case rule.BlockAt > 0 && n >= rule.BlockAt:
			action, threshold = Block, rule.BlockAt
		case rule.WarnAt > 0 && n >= rule.WarnAt:
			action, threshold = Warn, rule.WarnAt
		default:
			continue
		}
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s: %d found, %s at %d", name, n, action, threshold))
		if action > d.Action {
			d.Action = action
		}
	}
	return d
}
