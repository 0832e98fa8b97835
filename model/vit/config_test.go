package vit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestProcessorDefaults: keys a preprocessor_config.json leaves out take
// the defaults of the processor it names, as HF's do (DeiT's: bicubic
// resize to 256, a 224 crop, ImageNet's mean and deviation).
func TestProcessorDefaults(t *testing.T) {
	c := DefaultConfig()
	for _, tc := range []struct {
		file string
		want Processor
	}{
		{`{"image_processor_type": "DeiTImageProcessor"}`, func() Processor { p := deitProcessor(); p.Type = "DeiTImageProcessor"; return p }()},
		{`{"feature_extractor_type": "DeiTFeatureExtractor", "size": 300}`, func() Processor { p := deitProcessor(); p.Size = Size{Height: 300, Width: 300}; return p }()},
		{`{"image_processor_type": "ViTImageProcessor"}`, func() Processor { p := DefaultProcessor(c); p.Type = "ViTImageProcessor"; return p }()},
		{`{}`, DefaultProcessor(c)},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ProcessorFile), []byte(tc.file), 0o644)
		got, err := LoadProcessor(dir, c)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.file, got, err, tc.want)
		}
	}
}
