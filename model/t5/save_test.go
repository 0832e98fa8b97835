package t5

import (
	"testing"

	"github.com/attn-go/attn/internal/golden"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, tied := range []bool{true, false} {
		cfg := tinyConfig
		cfg.TieWordEmbeddings = tied
		m, err := New(cfg, 7)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := Save(dir, m); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if back.Cfg != m.Cfg {
			t.Errorf("Load(Save(m)): config %+v; want %+v", back.Cfg, m.Cfg)
		}
		want, got := m.Params(), back.Params()
		if len(got) != len(want) {
			t.Fatalf("Load(Save(m)) has %d parameters; want %d", len(got), len(want))
		}
		for i := range want {
			golden.CheckAbs(t, want[i].Name, got[i].Value.Data, want[i].Value.Data, 0)
		}
	}
}
