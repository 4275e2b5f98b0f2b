package repository

import (
	"container/list"
	"sync"
)

// blobCache is a small LRU of immutable decoded values, bounded by an
// approximate byte budget. Values are never mutated after insertion.
type blobCache struct {
	mu     sync.Mutex
	budget int
	used   int
	ll     *list.List
	m      map[string]*list.Element
}

type cacheItem struct {
	key  string
	val  any
	size int
}

func newBlobCache(budget int) *blobCache {
	return &blobCache{budget: budget, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *blobCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheItem).val, true
	}
	return nil, false
}

func (c *blobCache) add(key string, val any, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok || size > c.budget {
		return
	}
	c.m[key] = c.ll.PushFront(&cacheItem{key, val, size})
	c.used += size
	for c.used > c.budget {
		e := c.ll.Back()
		it := e.Value.(*cacheItem)
		c.ll.Remove(e)
		delete(c.m, it.key)
		c.used -= it.size
	}
}

func (c *blobCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
	c.used = 0
}
