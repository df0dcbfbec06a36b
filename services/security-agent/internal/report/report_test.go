package report

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"example.com/platform/services/security-agent/internal/fim"
)

// server answers with codes in turn (the last one repeats) and records
// what it received.
func server(t *testing.T, codes ...int) (*httptest.Server, *int32, *[]Report, *[]string) {
	t.Helper()
	var n int32
	var got []Report
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(atomic.AddInt32(&n, 1)) - 1
		if i >= len(codes) {
			i = len(codes) - 1
		}
		var rep Report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("bad request: %v", err)
		}
		got = append(got, rep)
		auth = append(auth, r.Header.Get("Authorization"))
		w.WriteHeader(codes[i])
		_, _ = w.Write([]byte(" nope \n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &got, &auth
}

func noSleep(delays *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		*delays = append(*delays, d)
		return nil
	}
}

var rep = Report{AgentID: "web-01", Version: "1.0", Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
	FIM: FIMResult{Files: 2, Changes: []fim.Change{{Path: "etc/passwd", Kind: fim.Modified}}}}

func TestSendRetriesTransientFailures(t *testing.T) {
	srv, n, got, auth := server(t, 503, 429, 200)
	var delays []time.Duration
	c := &Client{URL: srv.URL, Token: "s3cret", Retries: 3, Backoff: 100 * time.Millisecond, Sleep: noSleep(&delays)}
	attempts, err := c.Send(context.Background(), rep)
	if err != nil || attempts != 3 || *n != 3 {
		t.Fatalf("attempts %d, calls %d, err %v", attempts, *n, err)
	}
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; len(delays) != 2 || delays[0] != want[0] || delays[1] != want[1] {
		t.Errorf("backoff = %v, want %v", delays, want)
	}
	if (*got)[2].AgentID != "web-01" || (*got)[2].FIM.Changes[0].Path != "etc/passwd" || (*auth)[0] != "Bearer s3cret" {
		t.Errorf("received %+v, auth %v", (*got)[2], *auth)
	}
}

func TestSendGivesUpAfterRetries(t *testing.T) {
	srv, n, _, auth := server(t, 500)
	var delays []time.Duration
	c := &Client{URL: srv.URL, Retries: 2, Backoff: time.Second, Sleep: noSleep(&delays)}
	attempts, err := c.Send(context.Background(), rep)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 || se.Body != "nope" || attempts != 3 || *n != 3 {
		t.Errorf("attempts %d, calls %d, err %v", attempts, *n, err)
	}
	if (*auth)[0] != "" {
		t.Error("authorization sent without a token")
	}
	if !strings.Contains(err.Error(), "answered 500: nope") {
		t.Errorf("message = %v", err)
	}
}

func TestSendDoesNotRetryClientErrors(t *testing.T) {
	for _, code := range []int{400, 401, 404} {
		srv, n, _, _ := server(t, code, 200)
		var delays []time.Duration
		c := &Client{URL: srv.URL, Retries: 5, Sleep: noSleep(&delays)}
		if attempts, err := c.Send(context.Background(), rep); err == nil || attempts != 1 || *n != 1 {
			t.Errorf("%d: attempts %d, err %v", code, attempts, err)
		}
	}
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	srv, _, _, _ := server(t, 200)
	url := srv.URL
	srv.Close() // nothing listens there now
	var delays []time.Duration
	c := &Client{URL: url, Retries: 1, Sleep: noSleep(&delays)}
	if attempts, err := c.Send(context.Background(), rep); err == nil || attempts != 2 {
		t.Errorf("attempts %d, err %v", attempts, err)
	}
}

func TestSendStopsWhenContextEnds(t *testing.T) {
	srv, n, _, _ := server(t, 503)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{URL: srv.URL, Retries: 10, Backoff: time.Hour}
	go func() {
		for atomic.LoadInt32(n) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if attempts, err := c.Send(ctx, rep); err == nil || attempts != 1 {
			t.Errorf("attempts %d, err %v", attempts, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send ignored cancellation during backoff")
	}
	if _, err := c.Send(ctx, rep); err == nil {
		t.Error("Send on a done context succeeded")
	}
}

func TestSleep(t *testing.T) {
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep on cancelled ctx = %v", err)
	}
}

func TestBadURL(t *testing.T) {
	c := &Client{URL: "://bad"}
	if _, err := c.Send(context.Background(), rep); err == nil {
		t.Error("bad URL accepted")
	}
}
