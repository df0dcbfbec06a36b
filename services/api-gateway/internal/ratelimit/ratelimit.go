// Package ratelimit is a per-key token-bucket rate limiter.
//
// Each key (a client IP, a token subject) owns a bucket holding up to
// Burst tokens that refills continuously at Rate tokens per second. A
// request costs one token; when the bucket is empty the request is refused
// and the caller learns how long until a token is available.
package ratelimit

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Clock returns the current time; tests inject a fake one.
type Clock func() time.Time

type bucket struct {
	tokens float64
	last   time.Time
}

// Limiter holds one bucket per key. It is safe for concurrent use.
type Limiter struct {
	rate    float64
	burst   float64
	now     Clock
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock injects the time source.
func WithClock(c Clock) Option { return func(l *Limiter) { l.now = c } }

// WithMaxKeys bounds memory: when more keys are tracked, buckets that have
// refilled completely (and so are indistinguishable from new ones) are
// dropped. Default 10000.
func WithMaxKeys(n int) Option { return func(l *Limiter) { l.maxKeys = n } }

// New returns a limiter allowing rate requests per second with bursts of
// up to burst.
func New(rate float64, burst int, opts ...Option) (*Limiter, error) {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, errors.New("ratelimit: rate must be a positive finite number")
	}
	if burst < 1 {
		return nil, errors.New("ratelimit: burst must be at least 1")
	}
	l := &Limiter{
		rate:    rate,
		burst:   float64(burst),
		now:     time.Now,
		maxKeys: 10000,
		buckets: map[string]*bucket{},
	}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// Allow takes one token for key.
func (l *Limiter) Allow(key string) bool {
	ok, _, _ := l.Take(key, 1)
	return ok
}

// Take tries to take n tokens for key. It returns whether they were
// granted, the whole tokens left, and, when refused, how long until n
// tokens will be available (0 if n exceeds the burst and never can be).
func (l *Limiter) Take(key string, n int) (ok bool, remaining int, retryAfter time.Duration) {
	now := l.now()
	need := float64(n)

	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if need > l.burst {
		return false, int(b.tokens), 0
	}
	if b.tokens >= need {
		b.tokens -= need
		return true, int(b.tokens), 0
	}
	wait := (need - b.tokens) / l.rate
	return false, int(b.tokens), time.Duration(math.Ceil(wait * float64(time.Second)))
}

// refill adds the tokens earned since b.last. A clock that goes
// backwards earns nothing rather than a negative amount.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
}

// sweep drops buckets that are full by now. Caller holds l.mu.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of tracked keys.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// KeyFunc picks the bucket key of a request.
type KeyFunc func(*http.Request) string

// ClientIP keys requests by the connection's remote IP.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Middleware refuses requests over the limit with 429 and a Retry-After
// header (whole seconds, rounded up). Allowed responses carry
// X-RateLimit-Remaining.
func (l *Limiter) Middleware(key KeyFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok, remaining, retry := l.Take(key(r), 1)
			w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
			if !ok {
				secs := int(math.Ceil(retry.Seconds()))
				if secs < 1 {
					secs = 1
				}
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":"rate limit exceeded"}` + "\n"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
