package vit_test

import (
	"fmt"
	"log"

	"github.com/attn-go/attn/model/vit"
)

// A HuggingFace ViT classifier folder labels images: the folder's
// processor prepares each image as HF's pipeline does, and Classify runs
// the batch.
func Example() {
	dir := "../../testdata/hf/vit-tiny"
	m, err := vit.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	p, err := vit.LoadProcessor(dir, m.Cfg)
	if err != nil {
		log.Fatal(err)
	}
	var pixels []float32
	for _, path := range []string{"../../testdata/images/rgb.png", "../../testdata/images/gray.png"} {
		img, err := vit.ReadImage(path)
		if err != nil {
			log.Fatal(err)
		}
		x, err := p.Pixels(img) // [3, 32, 32]
		if err != nil {
			log.Fatal(err)
		}
		pixels = append(pixels, x...)
	}
	logits, err := m.Classify(pixels, 2)
	if err != nil {
		log.Fatal(err)
	}
	n := m.Labels()
	for i := range 2 {
		row := logits.Data[i*n : (i+1)*n]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		fmt.Printf("image %d: %s (logit %.3f)\n", i, m.Cfg.Label(best), row[best])
	}
	// Output:
	// image 0: espresso (logit 1.942)
	// image 1: espresso (logit 2.075)
}
