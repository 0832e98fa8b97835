//go:build unix

package safetensors

import (
	"fmt"
	"math"
	"os"
	"syscall"
)

// mapFile maps path read-only so tensors are paged in only when touched.
func mapFile(path string) ([]byte, func() error, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close() // the mapping outlives the descriptor
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 { // mmap rejects empty mappings; parse reports the short file
		return nil, func() error { return nil }, nil
	}
	if size < 0 || size > math.MaxInt {
		return nil, nil, fmt.Errorf("%s: size %d cannot be mapped", path, size)
	}
	data, err := syscall.Mmap(int(fh.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
