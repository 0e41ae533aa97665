package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
)

// Lines writes records as JSON lines to an io.Writer (standard output, or a file opened
// for appending).
type Lines struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Writer = (*Lines)(nil)

// NewLines writes to w.
func NewLines(w io.Writer) *Lines { return &Lines{w: w} }

// OpenFile opens (creating it, mode 0600) the file records are appended to.
func OpenFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening %s: %w", path, err)
	}
	return f, nil
}

// Write writes r as one line.
func (l *Lines) Write(_ context.Context, r Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(data)
	return err
}

// FileReader reads back the JSON lines a Lines wrote to a file. It scans the whole file
// for each page (O(file) time, O(limit) memory): meant for the file database of a
// development or small installation; PostgreSQL serves large ones. The continue token
// is the line number the next page ends before: lines are only ever appended, so it
// stays valid while the file grows.
type FileReader struct{ Path string }

var _ Reader = FileReader{}

type lineCursor struct {
	Before int `json:"l"`
}

// maxLine bounds a line read back (a record is well under 4 KiB).
const maxLine = 1 << 20

// Read returns the newest records matching q.
func (f FileReader) Read(ctx context.Context, q Query) (Page, error) {
	before := -1
	if q.Continue != "" {
		var c lineCursor
		if err := decodeToken(q.Continue, &c); err != nil || c.Before < 0 {
			return Page{}, fmt.Errorf("%w: continue token", ErrBadQuery)
		}
		before = c.Before
	}
	file, err := os.Open(f.Path)
	if os.IsNotExist(err) {
		return Page{Items: []Record{}}, nil
	}
	if err != nil {
		return Page{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer file.Close() //nolint:errcheck
	type numbered struct {
		line int
		r    Record
	}
	// A ring of the last limit+1 matches before the cursor: the newest limit are the
	// page, one more says there is a next page.
	ring := make([]numbered, 0, q.Limit+1)
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for n := 0; sc.Scan(); n++ {
		if before >= 0 && n >= before {
			break
		}
		if n%4096 == 0 && ctx.Err() != nil {
			return Page{}, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		}
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) != nil || !q.matches(r) {
			continue
		}
		if len(ring) == q.Limit+1 {
			copy(ring, ring[1:])
			ring = ring[:q.Limit]
		}
		ring = append(ring, numbered{n, r})
	}
	if err := sc.Err(); err != nil {
		return Page{}, fmt.Errorf("%w: reading %s: %v", ErrUnavailable, f.Path, err)
	}
	p := Page{Items: []Record{}}
	more := len(ring) > q.Limit
	if more {
		ring = ring[1:]
	}
	for i := len(ring) - 1; i >= 0; i-- {
		p.Items = append(p.Items, ring[i].r)
	}
	if more {
		p.Continue = encodeToken(lineCursor{Before: ring[0].line})
	}
	return p, nil
}

func encodeToken(v any) string {
	data, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeToken(s string, v any) error {
	if len(s) > 512 {
		return fmt.Errorf("token too long (%s bytes)", strconv.Itoa(len(s)))
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
