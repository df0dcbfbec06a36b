package inventory

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/platform/services/asset-inventory/internal/query"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CEST", 7200))

func valid() Asset {
	return Asset{Name: "web-01", Type: "server", Owner: "alice@corp.com", Criticality: "high", Environment: "production", Tags: []string{"pci"}}
}

func TestCreateNormalises(t *testing.T) {
	s := NewStore(func() time.Time { return t0 })
	in := Asset{Name: " Web-01 ", Type: "SERVER", Owner: " alice@corp.com ", Criticality: "High",
		Environment: "Production", Tags: []string{"PCI", "internet-facing", "pci", " dmz "}}
	a, err := s.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	want := Asset{ID: "ast-000001", Name: "web-01", Type: "server", Owner: "alice@corp.com", Criticality: "high",
		Environment: "production", Tags: []string{"dmz", "internet-facing", "pci"},
		CreatedAt: t0.UTC(), UpdatedAt: t0.UTC()}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got  %+v\nwant %+v", a, want)
	}
	if a.CreatedAt.Location() != time.UTC {
		t.Error("times must be UTC")
	}
	got, err := s.Get(a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	b := valid()
	b.Name, b.Tags, b.Environment = "web-02", nil, ""
	if b, err = s.Create(b); err != nil || b.ID != "ast-000002" || b.Tags == nil || len(b.Tags) != 0 {
		t.Errorf("second = %+v, %v (tags must be [] not null)", b, err)
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		mut  func(*Asset)
		want string
	}{
		{func(a *Asset) { a.Name = "" }, "name"},
		{func(a *Asset) { a.Name = "-web" }, "name"},
		{func(a *Asset) { a.Name = "web 01" }, "name"},
		{func(a *Asset) { a.Name = strings.Repeat("a", 64) }, "name"},
		{func(a *Asset) { a.Type = "mainframe" }, `type "mainframe" must be one of server`},
		{func(a *Asset) { a.Type = "" }, "type"},
		{func(a *Asset) { a.Criticality = "urgent" }, "criticality"},
		{func(a *Asset) { a.Criticality = "" }, "criticality"},
		{func(a *Asset) { a.Environment = "qa" }, "environment"},
		{func(a *Asset) { a.Owner = "" }, "owner"},
		{func(a *Asset) { a.Owner = "alice" }, "owner"},
		{func(a *Asset) { a.Owner = "Alice <alice@corp.com>" }, "owner"},
		{func(a *Asset) { a.Tags = []string{"ok", "not ok"} }, `tag "not ok"`},
		{func(a *Asset) { a.Tags = []string{""} }, "tag"},
		{func(a *Asset) {
			for i := 0; i < 33; i++ {
				a.Tags = append(a.Tags, "t"+strings.Repeat("x", i))
			}
		}, "at most 32 tags"},
	}
	s := NewStore(nil)
	for i, c := range cases {
		a := valid()
		c.mut(&a)
		_, err := s.Create(a)
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %d: err = %v, want %q", i, err, c.want)
		}
	}
	if got := s.List(nil); len(got) != 0 {
		t.Errorf("invalid assets stored: %v", got)
	}
	// every problem is reported, not just the first
	_, err := s.Create(Asset{})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 4 {
		t.Errorf("problems = %v", err)
	}
	a := valid()
	a.Tags = make([]string, 40)
	for i := range a.Tags {
		a.Tags[i] = "same"
	}
	if _, err := s.Create(a); err != nil {
		t.Errorf("duplicates collapse before the tag limit: %v", err)
	}
}

func TestNameUnique(t *testing.T) {
	s := NewStore(nil)
	a, _ := s.Create(valid())
	dup := valid()
	dup.Name = "WEB-01"
	if _, err := s.Create(dup); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	other := valid()
	other.Name = "web-02"
	b, _ := s.Create(other)
	// renaming onto another asset's name conflicts; keeping one's own does not
	if _, err := s.Update(b.ID, dup); !errors.Is(err, ErrConflict) {
		t.Errorf("rename onto taken name: %v", err)
	}
	if _, err := s.Update(a.ID, valid()); err != nil {
		t.Errorf("update keeping own name: %v", err)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	now := t0
	s := NewStore(func() time.Time { return now })
	a, _ := s.Create(valid())
	now = t0.Add(time.Hour)
	upd := valid()
	upd.Criticality = "critical"
	upd.ID = "ast-999999" // ignored: the path decides
	got, err := s.Update(a.ID, upd)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Criticality != "critical" || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(now) {
		t.Errorf("updated = %+v", got)
	}
	bad := valid()
	bad.Type = "nope"
	if _, err := s.Update(a.ID, bad); err == nil {
		t.Error("invalid update accepted")
	}
	if stored, _ := s.Get(a.ID); stored.Criticality != "critical" {
		t.Error("failed update changed the asset")
	}
	if _, err := s.Update("ast-404", valid()); !errors.Is(err, ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if err := s.Delete(a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.Get(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}

func TestListWithQuery(t *testing.T) {
	s := NewStore(nil)
	for _, a := range []Asset{
		{Name: "web-01", Type: "server", Owner: "alice@corp.com", Criticality: "high", Tags: []string{"pci"}},
		{Name: "db-01", Type: "database", Owner: "bob@corp.com", Criticality: "critical", Environment: "production"},
		{Name: "web-02", Type: "server", Owner: "alice@corp.com", Criticality: "medium", Environment: "dev"},
		{Name: "lt-01", Type: "workstation", Owner: "carol@corp.com", Criticality: "low"},
	} {
		if _, err := s.Create(a); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string][]string{
		"type=server AND criticality>=high":            {"web-01"},
		"criticality>=high":                            {"web-01", "db-01"},
		"owner=alice@corp.com AND NOT environment=dev": {"web-01"},
		"environment=\"\"":                             {"web-01", "lt-01"},
		"tag=pci OR type=workstation":                  {"web-01", "lt-01"},
		"id=ast-000002":                                {"db-01"},
		"name~web":                                     {"web-01", "web-02"},
		"type=router":                                  {},
	}
	for src, want := range cases {
		q, err := query.Compile(src, Schema)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		names := []string{}
		for _, a := range s.List(q) {
			names = append(names, a.Name)
		}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("%s = %v, want %v", src, names, want)
		}
	}
	if all := s.List(nil); len(all) != 4 || all[0].ID != "ast-000001" || all[3].ID != "ast-000004" {
		t.Errorf("List(nil) = %v", all)
	}
	if (Asset{}).Values("nope") != nil {
		t.Error("unknown field has values")
	}
}

func TestConcurrentCreate(t *testing.T) {
	s := NewStore(nil)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := valid()
			a.Name = "host-" + strings.Repeat("x", i%5)
			_, _ = s.Create(a)
		}(i)
	}
	wg.Wait()
	if n := len(s.List(nil)); n != 5 {
		t.Errorf("%d assets, want 5 unique names", n)
	}
}
