package kernels

import (
	"sync"
	"testing"
)

// TestEnds takes the items of an Ends from both ends at once: each is taken
// exactly once, the front's in rising order and the back's in falling.
func TestEnds(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		var e Ends
		e.Reset(n)
		var mu sync.Mutex
		taken := make([]int, n)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				front, last := g == 0, -1
				for {
					i, ok := e.Take(front)
					if !ok {
						return
					}
					if last >= 0 && (front && i <= last || !front && i >= last) {
						t.Errorf("n %d: goroutine %d took %d after %d", n, g, i, last)
					}
					last = i
					mu.Lock()
					taken[i]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for i, c := range taken {
			if c != 1 {
				t.Errorf("n %d: item %d taken %d times", n, i, c)
			}
		}
	}
}
