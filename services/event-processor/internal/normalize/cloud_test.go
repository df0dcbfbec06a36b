package normalize

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const trailConsoleFailure = `{
  "eventVersion": "1.08",
  "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::123456789012:user/alice", "userName": "alice"},
  "eventTime": "2024-05-01T09:15:00Z",
  "eventSource": "signin.amazonaws.com",
  "eventName": "ConsoleLogin",
  "awsRegion": "us-east-1",
  "sourceIPAddress": "203.0.113.10",
  "responseElements": {"ConsoleLogin": "Failure"},
  "recipientAccountId": "123456789012"
}`

func TestCloudTrailConsoleLoginFailure(t *testing.T) {
	ev := one(t, trailConsoleFailure)
	want := Event{
		Time: time.Date(2024, 5, 1, 9, 15, 0, 0, time.UTC), Format: FormatCloudTrail,
		Host: "us-east-1", Source: "signin.amazonaws.com", Action: "ConsoleLogin", Outcome: "failure",
		Severity: 4, SeverityLabel: "medium", User: "alice", SrcIP: "203.0.113.10", Message: "ConsoleLogin",
		Fields: map[string]string{"identity_type": "IAMUser", "account": "123456789012", "error_code": "ConsoleLoginFailure"},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestCloudTrailVariants(t *testing.T) {
	cases := []struct {
		name, json string
		check      func(Event) bool
	}{
		{"access denied is more severe",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T11:00:00+02:00","eventName":"DeleteBucket","errorCode":"AccessDenied","errorMessage":"not allowed","userIdentity":{"arn":"arn:aws:sts::1:assumed-role/r/s"}}`,
			func(e Event) bool {
				return e.Outcome == "failure" && e.Severity == 6 && e.User == "arn:aws:sts::1:assumed-role/r/s" &&
					e.Message == "DeleteBucket: not allowed" && e.Time.Equal(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC))
			}},
		{"unauthorized operation",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T09:00:00Z","eventName":"RunInstances","errorCode":"Client.UnauthorizedOperation"}`,
			func(e Event) bool { return e.Severity == 6 && e.Message == "RunInstances" }},
		{"other error",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T09:00:00Z","eventName":"RunInstances","errorCode":"InsufficientInstanceCapacity"}`,
			func(e Event) bool { return e.Severity == 4 && e.Outcome == "failure" }},
		{"successful write",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T09:00:00Z","eventName":"PutBucketPolicy","readOnly":false,"userIdentity":{"principalId":"AROA:bot"}}`,
			func(e Event) bool { return e.Severity == 2 && e.Outcome == "success" && e.User == "AROA:bot" }},
		{"successful read",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T09:00:00Z","eventName":"GetObject","readOnly":true}`,
			func(e Event) bool {
				return e.Severity == 1 && e.SeverityLabel == "info" && e.User == "" && e.Fields == nil
			}},
		{"service caller is not an IP",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T09:00:00Z","eventName":"AssumeRole","sourceIPAddress":"ec2.amazonaws.com"}`,
			func(e Event) bool { return e.SrcIP == "" && e.Fields["source_address"] == "ec2.amazonaws.com" }},
		{"successful console login",
			`{"eventVersion":"1.08","eventTime":"2024-05-01T09:00:00Z","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Success"}}`,
			func(e Event) bool { return e.Outcome == "success" }},
	}
	for _, c := range cases {
		evs, err := testNormalizer().Normalize([]byte(c.json))
		if err != nil || len(evs) != 1 || !c.check(evs[0]) {
			t.Errorf("%s: %+v %v", c.name, evs, err)
		}
	}
}

func TestCloudTrailRecordsFile(t *testing.T) {
	file := `{"Records":[` + trailConsoleFailure + `,{"eventVersion":"1.08","eventTime":"2024-05-01T09:16:00Z","eventName":"GetObject"}]}`
	evs, err := testNormalizer().Normalize([]byte(file))
	if err != nil || len(evs) != 2 || evs[0].Action != "ConsoleLogin" || evs[1].Action != "GetObject" {
		t.Fatalf("records = %+v, %v", evs, err)
	}
	_, err = testNormalizer().Normalize([]byte(`{"Records":[{"eventVersion":"1.08","eventName":"X"}]}`))
	if err == nil || !strings.Contains(err.Error(), "cloudtrail record 0: eventName and eventTime are required") {
		t.Errorf("err = %v", err)
	}
	if _, err = testNormalizer().Normalize([]byte(`{"Records":{}}`)); err == nil || !strings.Contains(err.Error(), "Records") {
		t.Errorf("err = %v", err)
	}
}

const gcpDenied = `{
  "protoPayload": {
    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
    "status": {"code": 7, "message": "PERMISSION_DENIED"},
    "authenticationInfo": {"principalEmail": "mallory@example.com"},
    "requestMetadata": {"callerIp": "198.51.100.23"},
    "serviceName": "storage.googleapis.com",
    "methodName": "storage.buckets.delete",
    "resourceName": "projects/_/buckets/prod-logs"
  },
  "resource": {"type": "gcs_bucket", "labels": {"project_id": "acme-prod"}},
  "timestamp": "2024-05-01T09:30:00.123456789Z",
  "severity": "NOTICE",
  "logName": "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity"
}`

func TestGCPAudit(t *testing.T) {
	ev := one(t, gcpDenied)
	want := Event{
		Time: time.Date(2024, 5, 1, 9, 30, 0, 123456789, time.UTC), Format: FormatGCPAudit,
		Host: "acme-prod", Source: "storage.googleapis.com", Action: "storage.buckets.delete", Outcome: "failure",
		Severity: 6, SeverityLabel: "medium", User: "mallory@example.com", SrcIP: "198.51.100.23",
		Message: "storage.buckets.delete: PERMISSION_DENIED",
		Fields:  map[string]string{"resource": "projects/_/buckets/prod-logs", "status_code": "7"},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestGCPSeverityAndStatus(t *testing.T) {
	base := func(sev, status string) string {
		return `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"m"` + status +
			`},"timestamp":"2024-05-01T09:30:00Z"` + sev + `}`
	}
	cases := []struct {
		sev, status string
		want        int
		outcome     string
	}{
		{``, ``, 1, "success"},
		{`,"severity":"DEBUG"`, ``, 0, "success"},
		{`,"severity":"warning"`, ``, 5, "success"},
		{`,"severity":"ERROR"`, ``, 7, "success"},
		{`,"severity":"EMERGENCY"`, ``, 10, "success"},
		{`,"severity":"ERROR"`, `,"status":{"code":7}`, 7, "failure"}, // already above the denied floor
		{`,"severity":"INFO"`, `,"status":{"code":16}`, 6, "failure"},
		{`,"severity":"INFO"`, `,"status":{"code":5}`, 1, "failure"},
		{`,"severity":"INFO"`, `,"status":{"code":0}`, 1, "success"},
		{`,"severity":"INFO"`, `,"status":{}`, 1, "success"},
	}
	for _, c := range cases {
		ev := one(t, base(c.sev, c.status))
		if ev.Severity != c.want || ev.Outcome != c.outcome {
			t.Errorf("%s %s: severity %d outcome %s; want %d %s", c.sev, c.status, ev.Severity, ev.Outcome, c.want, c.outcome)
		}
	}
}

func TestCloudErrors(t *testing.T) {
	cases := map[string]string{
		`{"eventVersion":"1.08","eventName":"X"}`:                                                                       "eventName and eventTime are required",
		`{"eventVersion":"1.08","eventName":"X","eventTime":"yesterday"}`:                                               "cloudtrail:",
		`{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog"}}`:                                  "timestamp is required",
		`{"protoPayload":{"@type":"x.Other"},"timestamp":"2024-05-01T09:30:00Z"}`:                                       "is not an AuditLog",
		`{"protoPayload":{"@type":"google.cloud.audit.AuditLog"},"timestamp":"2024-05-01T09:30:00Z","severity":"LOUD"}`: "unknown severity",
		`{"protoPayload":[]}`: "gcp audit:",
		`{"eventVersion":`:    "invalid JSON event",
	}
	for in, want := range cases {
		_, err := testNormalizer().Normalize([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
	}
}
