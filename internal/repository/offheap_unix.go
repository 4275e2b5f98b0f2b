//go:build unix

package repository

import (
	"os"
	"syscall"
	"unsafe"
)

var pageSize = os.Getpagesize()

func mapAnon(size int) ([]byte, bool) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	return mem, err == nil
}

func unmap(base unsafe.Pointer, size int) {
	_ = syscall.Munmap(unsafe.Slice((*byte)(base), size))
}
