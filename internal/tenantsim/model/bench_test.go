package model

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkGenerate measures generation time and the live heap of the
// generated tenant (MB/tenant) at the sizes the issue asks about.
func BenchmarkGenerate(b *testing.B) {
	for _, users := range []int{100_000, 500_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			var heap float64
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				t := Generate(1, Sizes{Users: users, LogsPerDay: 1000}, true, time.Now)
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
				runtime.KeepAlive(t)
			}
			b.ReportMetric(heap, "MB/tenant")
		})
	}
}
