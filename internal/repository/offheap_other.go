//go:build !unix

package repository

import "unsafe"

const pageSize = 4096

func mapAnon(int) ([]byte, bool) { return nil, false }

func unmap(unsafe.Pointer, int) {}
