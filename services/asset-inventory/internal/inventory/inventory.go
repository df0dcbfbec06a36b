// Package inventory is the in-memory asset inventory: typed assets with an
// owner and a criticality, validated on every write and filtered with the
// query language.
package inventory

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"example.com/platform/services/asset-inventory/internal/query"
)

// Types are the asset types the inventory knows.
var Types = []string{"server", "workstation", "network", "database", "container", "cloud", "iot"}

// Criticalities are the criticality levels, lowest first.
var Criticalities = []string{"low", "medium", "high", "critical"}

// Environments are the deployment environments.
var Environments = []string{"dev", "staging", "production"}

// Schema is what queries may filter on.
var Schema = query.Schema{
	"id":          {Kind: query.Text},
	"name":        {Kind: query.Text},
	"type":        {Kind: query.Text},
	"owner":       {Kind: query.Text},
	"environment": {Kind: query.Text},
	"criticality": {Kind: query.Ordinal, Levels: Criticalities},
	"tag":         {Kind: query.Set},
}

// Asset is one inventory entry.
type Asset struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Owner       string    `json:"owner"`
	Criticality string    `json:"criticality"`
	Environment string    `json:"environment,omitempty"`
	Tags        []string  `json:"tags"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Values implements query.Record.
func (a Asset) Values(field string) []string {
	switch field {
	case "id":
		return []string{a.ID}
	case "name":
		return []string{a.Name}
	case "type":
		return []string{a.Type}
	case "owner":
		return []string{a.Owner}
	case "environment":
		return []string{a.Environment}
	case "criticality":
		return []string{a.Criticality}
	case "tag":
		return a.Tags
	}
	return nil
}

// Errors the store returns; handlers map them to status codes.
var (
	ErrNotFound = errors.New("asset not found")
	ErrConflict = errors.New("an asset with that name already exists")
)

// ValidationError lists every problem with an asset.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string { return "invalid asset: " + strings.Join(e.Problems, "; ") }

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	tagRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9:_-]{0,31}$`)
)

// normalise lower-cases the enumerations, sorts and deduplicates tags and
// validates everything, reporting all problems at once.
func normalise(a Asset) (Asset, error) {
	var probs []string
	a.Name = strings.ToLower(strings.TrimSpace(a.Name))
	a.Type = strings.ToLower(strings.TrimSpace(a.Type))
	a.Criticality = strings.ToLower(strings.TrimSpace(a.Criticality))
	a.Environment = strings.ToLower(strings.TrimSpace(a.Environment))
	a.Owner = strings.TrimSpace(a.Owner)
	if !nameRE.MatchString(a.Name) {
		probs = append(probs, fmt.Sprintf("name %q must be 1-63 of a-z 0-9 . _ - starting with a letter or digit", a.Name))
	}
	if !oneOf(Types, a.Type) {
		probs = append(probs, fmt.Sprintf("type %q must be one of %s", a.Type, strings.Join(Types, ", ")))
	}
	if !oneOf(Criticalities, a.Criticality) {
		probs = append(probs, fmt.Sprintf("criticality %q must be one of %s", a.Criticality, strings.Join(Criticalities, ", ")))
	}
	if a.Environment != "" && !oneOf(Environments, a.Environment) {
		probs = append(probs, fmt.Sprintf("environment %q must be one of %s", a.Environment, strings.Join(Environments, ", ")))
	}
	if addr, err := mail.ParseAddress(a.Owner); err != nil || addr.Address != a.Owner {
		probs = append(probs, fmt.Sprintf("owner %q must be an e-mail address", a.Owner))
	}
	seen := map[string]bool{}
	tags := []string{}
	for _, t := range a.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if !tagRE.MatchString(t) {
			probs = append(probs, fmt.Sprintf("tag %q is not valid", t))
			continue
		}
		if !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	if len(tags) > 32 {
		probs = append(probs, "at most 32 tags")
	}
	sort.Strings(tags)
	a.Tags = tags
	if len(probs) > 0 {
		return a, &ValidationError{probs}
	}
	return a, nil
}

func oneOf(set []string, v string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// Store holds the assets. Names are unique.
type Store struct {
	mu   sync.RWMutex
	now  func() time.Time
	seq  int
	byID map[string]Asset
}

// NewStore returns an empty store; now defaults to time.Now.
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{now: now, byID: map[string]Asset{}}
}

func (s *Store) nameTaken(name, exceptID string) bool {
	for id, a := range s.byID {
		if a.Name == name && id != exceptID {
			return true
		}
	}
	return false
}

// Create validates a and stores it under a new id.
func (s *Store) Create(a Asset) (Asset, error) {
	a, err := normalise(a)
	if err != nil {
		return Asset{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nameTaken(a.Name, "") {
		return Asset{}, ErrConflict
	}
	s.seq++
	a.ID = fmt.Sprintf("ast-%06d", s.seq)
	a.CreatedAt = s.now().UTC()
	a.UpdatedAt = a.CreatedAt
	s.byID[a.ID] = a
	return a, nil
}

// Get returns the asset with id.
func (s *Store) Get(id string) (Asset, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.byID[id]
	if !ok {
		return Asset{}, ErrNotFound
	}
	return a, nil
}

// Update replaces the asset with id, keeping its id and creation time.
func (s *Store) Update(id string, a Asset) (Asset, error) {
	a, err := normalise(a)
	if err != nil {
		return Asset{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byID[id]
	if !ok {
		return Asset{}, ErrNotFound
	}
	if s.nameTaken(a.Name, id) {
		return Asset{}, ErrConflict
	}
	a.ID, a.CreatedAt, a.UpdatedAt = id, old.CreatedAt, s.now().UTC()
	s.byID[id] = a
	return a, nil
}

// Delete removes the asset with id.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; !ok {
		return ErrNotFound
	}
	delete(s.byID, id)
	return nil
}

// List returns the assets matching q (all when q is nil), ordered by id.
func (s *Store) List(q *query.Query) []Asset {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Asset{}
	for _, a := range s.byID {
		if q == nil || q.Match(a) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
