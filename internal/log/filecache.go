package log

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/tandem-streaming/tandem/internal/vfs"
)

// FileCache bounds the number of open file descriptors across every log of
// the broker. Segment files are represented by handles that open lazily on
// first use; idle open handles sit on an LRU list and are closed when the
// number of open descriptors exceeds the bound. A handle in use (acquired
// and not yet released) is never closed, so the bound is soft: it can be
// exceeded while more files than maxOpen are in use at once.
//
// This is what lets 10,000 partitions cost a handful of descriptors when
// idle: a partition holds only handles (a path and some bookkeeping), and
// only the files touched recently are open.
type FileCache struct {
	fs      vfs.FS
	mu      sync.Mutex
	maxOpen int
	open    int
	lru     fileHandle // sentinel of the idle-open list; lru.next is least recently used
}

// NewFileCache returns a cache that keeps at most maxOpen idle descriptors
// open (minimum 1), on the operating system's file system.
func NewFileCache(maxOpen int) *FileCache { return NewFileCacheFS(maxOpen, nil) }

// NewFileCacheFS is NewFileCache on fs (vfs.Default when nil). Logs
// opened with this cache and no Options.FS use fs too.
func NewFileCacheFS(maxOpen int, fs vfs.FS) *FileCache {
	if maxOpen < 1 {
		maxOpen = 1
	}
	if fs == nil {
		fs = vfs.Default
	}
	c := &FileCache{fs: fs, maxOpen: maxOpen}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Open reports the number of descriptors currently open.
func (c *FileCache) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// errHandleClosed is returned by acquire after close.
var errHandleClosed = errors.New("log: file handle closed")

// fileHandle is one lazily opened file. Fields other than openMu are
// guarded by cache.mu.
type fileHandle struct {
	cache *FileCache
	// openMu serializes opening, renaming and closing of this handle so a
	// rename cannot race an open of the old path.
	openMu     sync.Mutex
	path       string
	f          vfs.File
	refs       int
	closed     bool
	prev, next *fileHandle // idle-open LRU links, nil when not listed
}

// handle returns an unopened handle for path.
func (c *FileCache) handle(path string) *fileHandle {
	return &fileHandle{cache: c, path: path}
}

// adopt wraps an already open file (for example one just created), listing
// it as idle-open.
func (c *FileCache) adopt(path string, f vfs.File) *fileHandle {
	h := &fileHandle{cache: c, path: path, f: f}
	c.mu.Lock()
	c.open++
	c.pushIdle(h)
	victims := c.evictLocked()
	c.mu.Unlock()
	closeAll(victims)
	return h
}

func (c *FileCache) pushIdle(h *fileHandle) {
	h.prev, h.next = c.lru.prev, &c.lru
	c.lru.prev.next = h
	c.lru.prev = h
}

func (c *FileCache) unlink(h *fileHandle) {
	if h.next == nil {
		return
	}
	h.prev.next, h.next.prev = h.next, h.prev
	h.prev, h.next = nil, nil
}

// evictLocked detaches idle files beyond the bound; the caller closes them
// after dropping c.mu.
func (c *FileCache) evictLocked() []vfs.File {
	var victims []vfs.File
	for c.open > c.maxOpen && c.lru.next != &c.lru {
		h := c.lru.next
		c.unlink(h)
		victims = append(victims, h.f)
		h.f = nil
		c.open--
	}
	return victims
}

func closeAll(fs []vfs.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}

// acquire returns the open file, opening it (read-write, created if
// missing) when needed. Every successful acquire must be paired with
// release.
func (h *fileHandle) acquire() (vfs.File, error) {
	c := h.cache
	c.mu.Lock()
	if h.closed {
		c.mu.Unlock()
		return nil, errHandleClosed
	}
	if h.f != nil {
		h.refs++
		c.unlink(h)
		f := h.f
		c.mu.Unlock()
		return f, nil
	}
	c.mu.Unlock()

	h.openMu.Lock()
	defer h.openMu.Unlock()
	c.mu.Lock()
	if h.closed {
		c.mu.Unlock()
		return nil, errHandleClosed
	}
	if h.f != nil { // opened by a concurrent acquire
		h.refs++
		c.unlink(h)
		f := h.f
		c.mu.Unlock()
		return f, nil
	}
	path := h.path
	c.mu.Unlock()
	f, err := c.openFile(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	h.f = f
	h.refs++
	c.open++
	victims := c.evictLocked()
	c.mu.Unlock()
	closeAll(victims)
	return f, nil
}

// openFile opens path. When the process is out of descriptors (EMFILE,
// or ENFILE for the whole system) it closes every idle descriptor of the
// cache and tries once more: the cache's own idle files are the one
// supply of descriptors the broker can give back at once, and a roll or a
// read that would otherwise fail then goes through.
func (c *FileCache) openFile(path string, flag int) (vfs.File, error) {
	f, err := c.fs.OpenFile(path, flag, 0o644)
	if err == nil || !isDescriptorShortage(err) {
		return f, err
	}
	c.mu.Lock()
	var victims []vfs.File
	for c.lru.next != &c.lru {
		h := c.lru.next
		c.unlink(h)
		victims = append(victims, h.f)
		h.f = nil
		c.open--
	}
	c.mu.Unlock()
	if len(victims) == 0 {
		return nil, err
	}
	closeAll(victims)
	return c.fs.OpenFile(path, flag, 0o644)
}

// isDescriptorShortage: EMFILE (this process) or ENFILE (the system).
func isDescriptorShortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// release ends a use started by acquire.
func (h *fileHandle) release() {
	c := h.cache
	c.mu.Lock()
	h.refs--
	var victims []vfs.File
	if h.refs == 0 && h.f != nil {
		if h.closed {
			victims = append(victims, h.f)
			h.f = nil
			c.open--
		} else {
			c.pushIdle(h)
			victims = c.evictLocked()
		}
	}
	c.mu.Unlock()
	closeAll(victims)
}

// currentPath returns the handle's path.
func (h *fileHandle) currentPath() string {
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	return h.path
}

// rename moves the file and points the handle at the new path. An open
// descriptor stays valid across the rename.
func (h *fileHandle) rename(newPath string) error {
	h.openMu.Lock()
	defer h.openMu.Unlock()
	old := h.currentPath()
	if err := h.cache.fs.Rename(old, newPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("log: rename %s: %w", old, err)
	}
	// A file never created (a lazily created index) moves too: it will be
	// created under the new name if it ever is.
	h.cache.mu.Lock()
	h.path = newPath
	h.cache.mu.Unlock()
	return nil
}

// close drops the handle from the cache; the descriptor is closed now or,
// if in use, at the last release. Further acquires fail.
func (h *fileHandle) close() {
	h.openMu.Lock()
	defer h.openMu.Unlock()
	c := h.cache
	c.mu.Lock()
	if h.closed {
		c.mu.Unlock()
		return
	}
	h.closed = true
	var f vfs.File
	if h.refs == 0 && h.f != nil {
		c.unlink(h)
		f = h.f
		h.f = nil
		c.open--
	}
	c.mu.Unlock()
	if f != nil {
		_ = f.Close()
	}
}

// withFile runs fn with the open file.
func (h *fileHandle) withFile(fn func(f vfs.File) error) error {
	f, err := h.acquire()
	if err != nil {
		return err
	}
	defer h.release()
	return fn(f)
}
