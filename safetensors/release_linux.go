package safetensors

import (
	"os"
	"syscall"
	"unsafe"
)

// releasePages tells the kernel that the mapped file bytes b are not
// needed again soon (MADV_DONTNEED): the whole pages inside b leave the
// process's resident set, and a later read pages them in again from the
// page cache. Only for bytes of a read-only file mapping: on anonymous
// memory it would zero them.
func releasePages(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(b))) &^ (page - 1)
	if len(b) == 0 || hi <= lo {
		return
	}
	syscall.Madvise(b[lo-start:hi-start], syscall.MADV_DONTNEED) // advice: an error changes nothing
}
