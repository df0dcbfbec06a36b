// Package report sends the agent's reports to the collection endpoint,
// retrying transient failures with exponential backoff.
package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"example.com/platform/services/security-agent/internal/facts"
	"example.com/platform/services/security-agent/internal/fim"
)

// Report is one agent check-in.
type Report struct {
	AgentID string      `json:"agent_id"`
	Version string      `json:"version"`
	Time    time.Time   `json:"time"`
	Facts   facts.Facts `json:"facts"`
	FIM     FIMResult   `json:"fim"`
}

// FIMResult is the integrity check's outcome.
type FIMResult struct {
	Files   int          `json:"files"`
	Changes []fim.Change `json:"changes"`
	Error   string       `json:"error,omitempty"`
}

// Client posts reports.
type Client struct {
	URL     string
	Token   string // sent as a bearer token when set
	HTTP    *http.Client
	Retries int           // extra attempts after the first
	Backoff time.Duration // delay before the first retry; doubles each time
	// Sleep waits between attempts; tests replace it. It returns early
	// with ctx's error when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("report: endpoint answered %d: %s", e.Code, e.Body)
}

// retryable: server errors and throttling may pass on a later attempt;
// other client errors will not.
func (e *StatusError) retryable() bool { return e.Code >= 500 || e.Code == http.StatusTooManyRequests }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send posts r, retrying network errors, 5xx and 429. It returns the
// last error, and how many attempts were made.
func (c *Client) Send(ctx context.Context, r Report) (int, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	hc, wait := c.HTTP, c.Sleep
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if wait == nil {
		wait = sleep
	}
	delay := c.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		last = c.post(ctx, hc, body)
		if last == nil {
			return attempt, nil
		}
		if se, ok := last.(*StatusError); ok && !se.retryable() {
			return attempt, last
		}
		if attempt > c.Retries || ctx.Err() != nil {
			return attempt, last
		}
		if err := wait(ctx, delay); err != nil {
			return attempt, last
		}
		delay *= 2
	}
}

func (c *Client) post(ctx context.Context, hc *http.Client, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(msg))}
	}
	return nil
}
