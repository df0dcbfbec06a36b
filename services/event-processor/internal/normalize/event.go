// Package normalize turns raw security events of several formats into one
// schema with UTC timestamps and a 0-10 severity:
//
//   - syslog lines in RFC 5424 format (a CEF message inside one is parsed
//     as CEF, with the syslog header as fallback time and host);
//   - CEF strings, bare or behind any other prefix;
//   - cloud audit log JSON: AWS CloudTrail records (also a whole
//     {"Records":[...]} file) and Google Cloud audit log entries.
package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Event is the normalised schema.
type Event struct {
	Time          time.Time         `json:"time"`
	Format        string            `json:"format"`
	Host          string            `json:"host,omitempty"`
	Source        string            `json:"source,omitempty"`
	Action        string            `json:"action,omitempty"`
	Outcome       string            `json:"outcome,omitempty"` // success | failure | ""
	Severity      int               `json:"severity"`          // 0-10
	SeverityLabel string            `json:"severity_label"`
	User          string            `json:"user,omitempty"`
	SrcIP         string            `json:"src_ip,omitempty"`
	DstIP         string            `json:"dst_ip,omitempty"`
	Message       string            `json:"message,omitempty"`
	Fields        map[string]string `json:"fields,omitempty"`
}

// Formats.
const (
	FormatSyslog     = "syslog"
	FormatCEF        = "cef"
	FormatCloudTrail = "cloudtrail"
	FormatGCPAudit   = "gcp_audit"
)

// Label names a 0-10 severity: info (0-1), low (2-3), medium (4-6),
// high (7-8), critical (9-10).
func Label(sev int) string {
	switch {
	case sev <= 1:
		return "info"
	case sev <= 3:
		return "low"
	case sev <= 6:
		return "medium"
	case sev <= 8:
		return "high"
	}
	return "critical"
}

// Normalizer parses raw events. Now stamps events whose source gives no
// time; Local is the zone of CEF times written without one.
type Normalizer struct {
	Now   func() time.Time
	Local *time.Location
}

// New returns a Normalizer using the wall clock and UTC.
func New() *Normalizer { return &Normalizer{Now: time.Now, Local: time.UTC} }

func (n *Normalizer) received() time.Time { return n.Now().UTC() }

// ErrUnknownFormat is returned for input that matches no known format.
var ErrUnknownFormat = errors.New("unrecognised event format")

// Normalize parses one raw event: a text line (syslog or CEF) or a JSON
// object (cloud audit log). A CloudTrail file yields one event per record.
func (n *Normalizer) Normalize(raw []byte) ([]Event, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty event")
	}
	var ev Event
	var err error
	switch {
	case raw[0] == '{':
		return n.cloud(raw)
	case raw[0] == '<':
		ev, err = n.syslog(string(raw))
	default:
		line := string(raw)
		i := strings.Index(line, "CEF:")
		if i < 0 || (i > 0 && line[i-1] != ' ') {
			return nil, ErrUnknownFormat
		}
		ev, err = n.cef(line[i:], time.Time{}, "")
	}
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

func finish(ev *Event) {
	ev.Time = ev.Time.UTC()
	if ev.Severity < 0 {
		ev.Severity = 0
	}
	if ev.Severity > 10 {
		ev.Severity = 10
	}
	ev.SeverityLabel = Label(ev.Severity)
	if len(ev.Fields) == 0 {
		ev.Fields = nil
	}
}

// ip returns s if it is an IP address, else "".
func ip(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// ---- cloud audit logs

type cloudTrail struct {
	EventVersion string    `json:"eventVersion"`
	EventTime    time.Time `json:"eventTime"`
	EventSource  string    `json:"eventSource"`
	EventName    string    `json:"eventName"`
	AWSRegion    string    `json:"awsRegion"`
	SourceIP     string    `json:"sourceIPAddress"`
	ErrorCode    string    `json:"errorCode"`
	ErrorMessage string    `json:"errorMessage"`
	Recipient    string    `json:"recipientAccountId"`
	ReadOnly     *bool     `json:"readOnly"`
	UserIdentity struct {
		Type        string `json:"type"`
		UserName    string `json:"userName"`
		ARN         string `json:"arn"`
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
	Response map[string]interface{} `json:"responseElements"`
}

type gcpAudit struct {
	Timestamp time.Time `json:"timestamp"`
	Severity  string    `json:"severity"`
	LogName   string    `json:"logName"`
	Resource  struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
	Payload struct {
		Type         string `json:"@type"`
		ServiceName  string `json:"serviceName"`
		MethodName   string `json:"methodName"`
		ResourceName string `json:"resourceName"`
		AuthInfo     struct {
			PrincipalEmail string `json:"principalEmail"`
		} `json:"authenticationInfo"`
		RequestMetadata struct {
			CallerIP string `json:"callerIp"`
		} `json:"requestMetadata"`
		Status *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	} `json:"protoPayload"`
}

func (n *Normalizer) cloud(raw []byte) ([]Event, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("invalid JSON event: %v", err)
	}
	if recs, ok := probe["Records"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(recs, &list); err != nil {
			return nil, fmt.Errorf("cloudtrail: Records: %v", err)
		}
		out := make([]Event, 0, len(list))
		for i, r := range list {
			ev, err := n.cloudTrail(r)
			if err != nil {
				return nil, fmt.Errorf("cloudtrail record %d: %v", i, err)
			}
			out = append(out, ev)
		}
		return out, nil
	}
	_, isTrail := probe["eventVersion"]
	_, hasName := probe["eventName"]
	if isTrail && hasName {
		ev, err := n.cloudTrail(raw)
		if err != nil {
			return nil, fmt.Errorf("cloudtrail: %v", err)
		}
		return []Event{ev}, nil
	}
	if _, ok := probe["protoPayload"]; ok {
		ev, err := n.gcp(raw)
		if err != nil {
			return nil, fmt.Errorf("gcp audit: %v", err)
		}
		return []Event{ev}, nil
	}
	return nil, ErrUnknownFormat
}

func (n *Normalizer) cloudTrail(raw []byte) (Event, error) {
	var r cloudTrail
	if err := json.Unmarshal(raw, &r); err != nil {
		return Event{}, err
	}
	if r.EventName == "" || r.EventTime.IsZero() {
		return Event{}, errors.New("eventName and eventTime are required")
	}
	ev := Event{
		Time: r.EventTime, Format: FormatCloudTrail, Source: r.EventSource, Action: r.EventName,
		Host: r.AWSRegion, Outcome: "success", Severity: 1, Message: r.EventName,
		Fields: map[string]string{},
	}
	for _, u := range []string{r.UserIdentity.UserName, r.UserIdentity.ARN, r.UserIdentity.PrincipalID} {
		if u != "" {
			ev.User = u
			break
		}
	}
	if ev.SrcIP = ip(r.SourceIP); ev.SrcIP == "" && r.SourceIP != "" {
		ev.Fields["source_address"] = r.SourceIP // AWS services call as e.g. "ec2.amazonaws.com"
	}
	if r.UserIdentity.Type != "" {
		ev.Fields["identity_type"] = r.UserIdentity.Type
	}
	if r.Recipient != "" {
		ev.Fields["account"] = r.Recipient
	}
	if r.ReadOnly != nil && !*r.ReadOnly {
		ev.Severity = 2 // a successful change is worth more attention than a read
	}
	// ConsoleLogin reports failure in responseElements, not errorCode
	if v, _ := r.Response["ConsoleLogin"].(string); strings.EqualFold(v, "failure") && r.ErrorCode == "" {
		r.ErrorCode = "ConsoleLoginFailure"
	}
	if r.ErrorCode != "" {
		ev.Outcome = "failure"
		ev.Severity = 4
		ev.Fields["error_code"] = r.ErrorCode
		if strings.Contains(r.ErrorCode, "AccessDenied") || strings.Contains(r.ErrorCode, "Unauthorized") {
			ev.Severity = 6
		}
		if r.ErrorMessage != "" {
			ev.Message = r.EventName + ": " + r.ErrorMessage
		}
	}
	finish(&ev)
	return ev, nil
}

// gcpSeverity maps Cloud Logging's LogSeverity names.
var gcpSeverity = map[string]int{
	"DEFAULT": 1, "DEBUG": 0, "INFO": 1, "NOTICE": 2, "WARNING": 5,
	"ERROR": 7, "CRITICAL": 8, "ALERT": 9, "EMERGENCY": 10,
}

func (n *Normalizer) gcp(raw []byte) (Event, error) {
	var r gcpAudit
	if err := json.Unmarshal(raw, &r); err != nil {
		return Event{}, err
	}
	if !strings.HasSuffix(r.Payload.Type, "google.cloud.audit.AuditLog") {
		return Event{}, fmt.Errorf("protoPayload @type %q is not an AuditLog", r.Payload.Type)
	}
	if r.Timestamp.IsZero() {
		return Event{}, errors.New("timestamp is required")
	}
	sev, ok := gcpSeverity[strings.ToUpper(r.Severity)]
	if !ok && r.Severity != "" {
		return Event{}, fmt.Errorf("unknown severity %q", r.Severity)
	}
	if r.Severity == "" {
		sev = 1
	}
	ev := Event{
		Time: r.Timestamp, Format: FormatGCPAudit, Source: r.Payload.ServiceName,
		Action: r.Payload.MethodName, User: r.Payload.AuthInfo.PrincipalEmail,
		SrcIP: ip(r.Payload.RequestMetadata.CallerIP), Severity: sev, Outcome: "success",
		Host: r.Resource.Labels["project_id"], Message: r.Payload.MethodName,
		Fields: map[string]string{},
	}
	if r.Payload.ResourceName != "" {
		ev.Fields["resource"] = r.Payload.ResourceName
	}
	if st := r.Payload.Status; st != nil && st.Code != 0 {
		ev.Outcome = "failure"
		ev.Fields["status_code"] = fmt.Sprint(st.Code)
		if st.Message != "" {
			ev.Message = r.Payload.MethodName + ": " + st.Message
		}
		if (st.Code == 7 || st.Code == 16) && ev.Severity < 6 { // PERMISSION_DENIED, UNAUTHENTICATED
			ev.Severity = 6
		}
	}
	finish(&ev)
	return ev, nil
}
