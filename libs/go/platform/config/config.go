// Package config reads typed settings from the environment.
//
// A Loader collects every problem (missing required keys, unparsable
// values) so a service can report all of them at start-up at once:
//
//	c := config.New()
//	port := c.Int("PORT", 8080)
//	secret := c.RequiredString("TOKEN_SECRET")
//	if err := c.Err(); err != nil { ... }
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Lookup finds a variable; it has the signature of os.LookupEnv.
type Lookup func(key string) (string, bool)

// Loader reads values through a Lookup and records errors.
type Loader struct {
	lookup Lookup
	errs   []string
}

// New returns a Loader over the process environment.
func New() *Loader { return FromLookup(os.LookupEnv) }

// FromMap returns a Loader over a fixed map (handy in tests).
func FromMap(m map[string]string) *Loader {
	return FromLookup(func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	})
}

// FromLookup returns a Loader over an arbitrary lookup function.
func FromLookup(l Lookup) *Loader { return &Loader{lookup: l} }

// raw returns the trimmed value and whether it is set and non-empty.
func (c *Loader) raw(key string) (string, bool) {
	v, ok := c.lookup(key)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (c *Loader) fail(format string, args ...interface{}) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// String returns the value of key or def when unset or empty.
func (c *Loader) String(key, def string) string {
	if v, ok := c.raw(key); ok {
		return v
	}
	return def
}

// RequiredString returns the value of key and records an error if unset.
func (c *Loader) RequiredString(key string) string {
	v, ok := c.raw(key)
	if !ok {
		c.fail("%s: required but not set", key)
	}
	return v
}

// Int returns key parsed as a base-10 integer, or def.
func (c *Loader) Int(key string, def int) int {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		c.fail("%s: %q is not an integer", key, v)
		return def
	}
	return n
}

// Float returns key parsed as a float64, or def.
func (c *Loader) Float(key string, def float64) float64 {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		c.fail("%s: %q is not a number", key, v)
		return def
	}
	return f
}

// Duration returns key parsed with time.ParseDuration, or def. A bare
// integer is taken as seconds.
func (c *Loader) Duration(key string, def time.Duration) time.Duration {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		c.fail("%s: %q is not a duration", key, v)
		return def
	}
	return d
}

// Bool returns key parsed as a boolean, or def. Accepts
// 1/0, true/false, yes/no, on/off (case-insensitive).
func (c *Loader) Bool(key string, def bool) bool {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on", "t", "y":
		return true
	case "0", "false", "no", "off", "f", "n":
		return false
	}
	c.fail("%s: %q is not a boolean", key, v)
	return def
}

// List returns key split on commas with blanks removed, or def.
func (c *Loader) List(key string, def []string) []string {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Err returns all recorded problems as one error, or nil.
func (c *Loader) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return &Error{Problems: append([]string(nil), c.errs...)}
}

// Error lists every configuration problem found.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "config: " + strings.Join(e.Problems, "; ")
}
