package postgres

import (
	"encoding/json"
	"sync"
	"sync/atomic"
)

// MaxCachedDocuments bounds the document cache, MaxCachedLists its lists; when one is
// full it starts over.
const (
	MaxCachedDocuments = 100_000
	MaxCachedLists     = 10_000
)

// listKey is what a list selects: a kind, a project (” for every project or a global
// kind) and a LIKE pattern of names (” for every name).
type listKey struct {
	kind, project, pattern string
}

// docCache keeps single documents read by Get, and the results of lists, so that a replica answers the reads that
// dominate (the project check of every request, dashboard views) without a round trip.
// It can only be trusted while a Listener hears every write: it is off until the DAO is
// told it follows the changes (Follow with a Resync), and off again as soon as the
// listener goes deaf. Every write through this DAO, and every key another writer
// notifies, drops the entry.
//
// A read that misses fills the cache only if nothing was dropped meanwhile (the
// generation did not move), so a slow read never brings back a value a write replaced.
type docCache struct {
	mu    sync.RWMutex
	docs  map[key][]byte
	lists map[listKey][]json.RawMessage
	gen   uint64
	live  bool

	hits, misses atomic.Uint64
}

func newDocCache() *docCache {
	return &docCache{docs: map[key][]byte{}, lists: map[listKey][]json.RawMessage{}}
}

// generation is the count of drops so far, for a read to present when it fills.
func (c *docCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// getList returns the cached result of a list, like get.
func (c *docCache) getList(k listKey) (docs []json.RawMessage, gen uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.live {
		if docs, ok = c.lists[k]; ok {
			c.hits.Add(1)
			return docs, c.gen, true
		}
		c.misses.Add(1)
	}
	return nil, c.gen, false
}

// fillList stores a list's result if nothing was dropped since gen was read.
func (c *docCache) fillList(k listKey, docs []json.RawMessage, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if len(c.lists) >= MaxCachedLists {
		c.lists = map[listKey][]json.RawMessage{}
	}
	c.lists[k] = docs
}

// dropListsOf forgets the lists that may hold a document of kind in project.
func (c *docCache) dropListsOf(kind, project string) {
	for lk := range c.lists {
		if lk.kind == kind && (lk.project == "" || lk.project == project) {
			delete(c.lists, lk)
		}
	}
}

// get returns the cached document of k, if the cache is live and holds it, and the
// generation a miss must present to fill.
func (c *docCache) get(k key) (doc []byte, gen uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.live {
		if doc, ok = c.docs[k]; ok {
			c.hits.Add(1)
			return doc, c.gen, true
		}
		c.misses.Add(1)
	}
	return nil, c.gen, false
}

// fill stores doc for k if nothing was dropped since gen was read.
func (c *docCache) fill(k key, doc []byte, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if len(c.docs) >= MaxCachedDocuments {
		c.docs = map[key][]byte{}
	}
	c.docs[k] = doc
}

// drop forgets k.
func (c *docCache) drop(k key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.docs, k)
	c.dropListsOf(k.kind, k.project)
}

// dropKind forgets every document of a kind.
func (c *docCache) dropKind(kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.docs {
		if k.kind == kind {
			delete(c.docs, k)
		}
	}
	for lk := range c.lists {
		if lk.kind == kind {
			delete(c.lists, lk)
		}
	}
}

// reset forgets everything and turns the cache on or off.
func (c *docCache) reset(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = live
	c.docs = map[key][]byte{}
	c.lists = map[listKey][]json.RawMessage{}
}

// CacheStats reports the document cache's hits and misses since start.
func (d *DAO) CacheStats() (hits, misses uint64) {
	return d.cache.hits.Load(), d.cache.misses.Load()
}

// Follow applies a Listener's report to the document cache: a Resync starts it afresh
// (and on), a key drops that document, a kind alone drops nothing (its key follows).
func (d *DAO) Follow(c Change) {
	switch {
	case c.Resync:
		d.cache.reset(true)
	case c.Key:
		d.cache.drop(key{kind: c.Kind, project: c.Project, name: c.Name})
	}
}

// Deaf turns the document cache off: the listener no longer hears the writes of others.
func (d *DAO) Deaf() { d.cache.reset(false) }
