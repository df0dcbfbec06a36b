// Package logging is a small structured JSON logger.
//
// Each record is one JSON object on its own line with the fields "ts",
// "level", "msg" and any key/value pairs passed by the caller. The minimum
// level is read from the LOG_LEVEL environment variable by FromEnv.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Level is a log severity.
type Level int

// Severities, lowest first.
const (
	Debug Level = iota
	Info
	Warn
	Error
)

// String returns the lower-case name of the level.
func (l Level) String() string {
	switch l {
	case Debug:
		return "debug"
	case Info:
		return "info"
	case Warn:
		return "warn"
	case Error:
		return "error"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// ParseLevel parses a level name (case-insensitive). "warning" is accepted
// as an alias of "warn".
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return Debug, nil
	case "info", "":
		return Info, nil
	case "warn", "warning":
		return Warn, nil
	case "error":
		return Error, nil
	}
	return Info, fmt.Errorf("logging: unknown level %q", s)
}

// Logger writes JSON records at or above its minimum level.
type Logger struct {
	mu     *sync.Mutex
	out    io.Writer
	min    Level
	fields []interface{}
	now    func() time.Time
}

// New returns a logger writing to out with the given minimum level.
func New(out io.Writer, min Level) *Logger {
	return &Logger{mu: &sync.Mutex{}, out: out, min: min, now: time.Now}
}

// FromEnv returns a logger on stderr whose level comes from LOG_LEVEL
// (default info). An unknown level falls back to info and is reported once.
func FromEnv(service string) *Logger {
	lvl, err := ParseLevel(os.Getenv("LOG_LEVEL"))
	l := New(os.Stderr, lvl).With("service", service)
	if err != nil {
		l.Warn("invalid LOG_LEVEL, using info", "error", err.Error())
	}
	return l
}

// SetClock replaces the time source (used by tests for stable output).
func (l *Logger) SetClock(now func() time.Time) { l.now = now }

// Level returns the minimum level.
func (l *Logger) Level() Level { return l.min }

// Enabled reports whether records at lvl are written.
func (l *Logger) Enabled(lvl Level) bool { return lvl >= l.min }

// With returns a child logger that adds the given key/value pairs to every
// record. The child shares the parent's writer and lock.
func (l *Logger) With(kv ...interface{}) *Logger {
	child := *l
	child.fields = append(append([]interface{}{}, l.fields...), kv...)
	return &child
}

// Debug logs at debug level.
func (l *Logger) Debug(msg string, kv ...interface{}) { l.log(Debug, msg, kv) }

// Info logs at info level.
func (l *Logger) Info(msg string, kv ...interface{}) { l.log(Info, msg, kv) }

// Warn logs at warn level.
func (l *Logger) Warn(msg string, kv ...interface{}) { l.log(Warn, msg, kv) }

// Error logs at error level.
func (l *Logger) Error(msg string, kv ...interface{}) { l.log(Error, msg, kv) }

func (l *Logger) log(lvl Level, msg string, kv []interface{}) {
	if !l.Enabled(lvl) {
		return
	}
	rec := map[string]interface{}{
		"ts":    l.now().UTC().Format(time.RFC3339Nano),
		"level": lvl.String(),
		"msg":   msg,
	}
	addPairs(rec, l.fields)
	addPairs(rec, kv)
	b, err := json.Marshal(rec)
	if err != nil {
		b, _ = json.Marshal(map[string]interface{}{
			"ts": rec["ts"], "level": lvl.String(), "msg": msg,
			"log_error": err.Error(),
		})
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.out.Write(b)
}

// addPairs copies key/value pairs into rec. Keys must be strings; a
// non-string key or a dangling key is recorded under "!badkey". Error
// values are rendered with Error().
func addPairs(rec map[string]interface{}, kv []interface{}) {
	for i := 0; i < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok || i+1 >= len(kv) {
			rec["!badkey"] = fmt.Sprint(kv[i])
			continue
		}
		val := kv[i+1]
		if e, isErr := val.(error); isErr {
			val = e.Error()
		}
		switch key {
		case "ts", "level", "msg":
			key = "field." + key
		}
		rec[key] = val
	}
}
