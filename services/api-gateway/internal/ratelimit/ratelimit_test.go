package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newLimiter(t *testing.T, rate float64, burst int, opts ...Option) (*Limiter, *fakeClock) {
	t.Helper()
	c := &fakeClock{t: time.Unix(1700000000, 0)}
	l, err := New(rate, burst, append([]Option{WithClock(c.now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestBurstThenRefuse(t *testing.T) {
	l, _ := newLimiter(t, 1, 3)
	for i := 0; i < 3; i++ {
		if !l.Allow("a") {
			t.Fatalf("request %d refused within burst", i+1)
		}
	}
	if l.Allow("a") {
		t.Error("request beyond burst allowed")
	}
}

func TestRefillOverTime(t *testing.T) {
	l, c := newLimiter(t, 2, 2) // 2 tokens/s
	l.Allow("a")
	l.Allow("a")
	ok, rem, retry := l.Take("a", 1)
	if ok || rem != 0 || retry != 500*time.Millisecond {
		t.Fatalf("empty bucket: ok=%v rem=%d retry=%v, want false 0 500ms", ok, rem, retry)
	}
	c.advance(499 * time.Millisecond)
	if l.Allow("a") {
		t.Error("allowed before a whole token refilled")
	}
	c.advance(time.Millisecond)
	if !l.Allow("a") {
		t.Error("refused after exactly one token refilled")
	}
	// a long idle period refills only up to the burst
	c.advance(time.Hour)
	for i := 0; i < 2; i++ {
		if !l.Allow("a") {
			t.Fatal("refused within burst after idle")
		}
	}
	if l.Allow("a") {
		t.Error("idle time accumulated beyond burst")
	}
}

func TestKeysAreIndependent(t *testing.T) {
	l, _ := newLimiter(t, 1, 1)
	if !l.Allow("alice") || l.Allow("alice") {
		t.Fatal("alice's bucket wrong")
	}
	if !l.Allow("bob") {
		t.Error("bob throttled by alice's usage")
	}
}

func TestTakeN(t *testing.T) {
	l, c := newLimiter(t, 1, 5)
	if ok, rem, _ := l.Take("k", 3); !ok || rem != 2 {
		t.Errorf("take 3: ok=%v rem=%d", ok, rem)
	}
	ok, rem, retry := l.Take("k", 3)
	if ok || rem != 2 || retry != time.Second {
		t.Errorf("take 3 more: ok=%v rem=%d retry=%v", ok, rem, retry)
	}
	// refused takes must not consume tokens
	c.advance(time.Second)
	if ok, rem, _ := l.Take("k", 3); !ok || rem != 0 {
		t.Errorf("after refill: ok=%v rem=%d", ok, rem)
	}
	if ok, _, retry := l.Take("k", 6); ok || retry != 0 {
		t.Errorf("more than burst: ok=%v retry=%v (must never be granted)", ok, retry)
	}
}

func TestFractionalRate(t *testing.T) {
	l, c := newLimiter(t, 0.1, 1) // one request per 10s
	l.Allow("k")
	_, _, retry := l.Take("k", 1)
	if retry != 10*time.Second {
		t.Errorf("retry = %v, want 10s", retry)
	}
	c.advance(9 * time.Second)
	if l.Allow("k") {
		t.Error("allowed after 9s")
	}
	c.advance(time.Second)
	if !l.Allow("k") {
		t.Error("refused after 10s")
	}
}

func TestClockGoingBackwards(t *testing.T) {
	l, c := newLimiter(t, 1, 1)
	l.Allow("k")
	c.advance(-time.Hour)
	if l.Allow("k") {
		t.Error("backwards clock granted tokens")
	}
	c.advance(time.Hour + time.Second)
	if !l.Allow("k") {
		t.Error("did not recover after the clock caught up")
	}
}

func TestClockStepBackDoesNotLockOut(t *testing.T) {
	l, c := newLimiter(t, 1, 2)
	l.Allow("k") // bucket at 1 of 2
	c.advance(-time.Hour)
	if !l.Allow("k") {
		t.Error("an NTP step backwards must not put a client in token debt")
	}
	if l.Allow("k") {
		t.Error("backwards clock granted extra tokens")
	}
}

func TestSweepKeepsSemantics(t *testing.T) {
	l, c := newLimiter(t, 1, 2, WithMaxKeys(2))
	l.Allow("busy")
	l.Allow("busy") // busy is empty
	l.Allow("idle") // idle has 1 of 2
	c.advance(1500 * time.Millisecond)
	// a third key triggers a sweep: idle is full again and is dropped, busy
	// (1.5 of 2 tokens) must be kept with its state.
	l.Allow("new")
	if l.Len() != 2 {
		t.Errorf("Len = %d, want 2 (idle evicted)", l.Len())
	}
	if ok, rem, _ := l.Take("busy", 1); !ok || rem != 0 {
		t.Errorf("busy bucket lost its state: ok=%v rem=%d", ok, rem)
	}
	if l.Allow("busy") {
		t.Error("busy bucket reset by sweep")
	}
}

func TestNewValidation(t *testing.T) {
	for _, c := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {math.NaN(), 1}, {math.Inf(1), 1}, {1, 0}} {
		if _, err := New(c.rate, c.burst); err == nil {
			t.Errorf("New(%v, %d) accepted", c.rate, c.burst)
		}
	}
	l, err := New(1, 1)
	if err != nil || !l.Allow("real-clock") {
		t.Errorf("default clock limiter: %v", err)
	}
}

func TestConcurrentAllowNeverOverGrants(t *testing.T) {
	l, _ := newLimiter(t, 1, 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if l.Allow("shared") {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if granted != 100 {
		t.Errorf("granted %d, want exactly the burst of 100", granted)
	}
}

func TestClientIP(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	if got := ClientIP(r); got != "10.1.2.3" {
		t.Errorf("got %q", got)
	}
	r.RemoteAddr = "[::1]:80"
	if got := ClientIP(r); got != "::1" {
		t.Errorf("got %q", got)
	}
	r.RemoteAddr = "unix-socket"
	if got := ClientIP(r); got != "unix-socket" {
		t.Errorf("got %q", got)
	}
	r.RemoteAddr = "10.1.2.3:1"
	r.Header.Set("X-Forwarded-For", "1.1.1.1")
	if got := ClientIP(r); got != "10.1.2.3" {
		t.Errorf("spoofable header trusted: %q", got)
	}
}

func TestMiddleware(t *testing.T) {
	l, c := newLimiter(t, 0.5, 2)
	calls := 0
	h := l.Middleware(ClientIP)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	send := func(ip string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = ip + ":1234"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for i, wantRem := range []string{"1", "0"} {
		rec := send("10.0.0.1")
		if rec.Code != 200 || rec.Header().Get("X-RateLimit-Remaining") != wantRem {
			t.Errorf("request %d: %d remaining=%q", i, rec.Code, rec.Header().Get("X-RateLimit-Remaining"))
		}
	}
	rec := send("10.0.0.1")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("over limit: %d Retry-After=%q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if calls != 2 {
		t.Errorf("handler called %d times, want 2", calls)
	}
	if send("10.0.0.2").Code != 200 {
		t.Error("other client throttled")
	}
	c.advance(1900 * time.Millisecond)
	if rec := send("10.0.0.1"); rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After should round a 0.1s wait up to 1, got %q", rec.Header().Get("Retry-After"))
	}
}

func BenchmarkAllow(b *testing.B) {
	l, _ := New(1e9, 1<<30)
	for i := 0; i < b.N; i++ {
		l.Allow(fmt.Sprint(i % 64))
	}
}
