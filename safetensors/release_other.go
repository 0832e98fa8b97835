//go:build !linux

package safetensors

// releasePages does nothing where madvise is not used: the file's pages
// stay resident until Close.
func releasePages([]byte) {}
