// Package nn holds the layers of the Transformer (Vaswani et al. 2017):
// linear maps, embeddings, positional encodings, LayerNorm, multi-head
// attention, feed-forward nets, and the encoder and decoder stacks.
//
// Layers are plain structs whose exported weights are *autograd.Var fields
// tagged with their checkpoint names (`attn:"weight"`), so a model's
// parameter names follow from its structure, as PyTorch's state_dict does.
package nn

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/attn-go/attn/autograd"
	"github.com/attn-go/attn/tensor"
)

// Param is a parameter with its checkpoint name.
type Param struct {
	Name string
	*autograd.Var
}

var varType = reflect.TypeFor[*autograd.Var]()

// Params lists the parameters of module m (a pointer to a layer struct) in
// field order. A field tagged `attn:"name"` contributes a parameter (for a
// *autograd.Var), or its own parameters under "name." (for a layer or a slice
// of layers, numbered "name.0.", "name.1.", ...); `attn:",inline"` adds a
// sub-layer's parameters without a prefix. Nil fields are skipped. A shared
// parameter appears once per name, as in PyTorch's state_dict.
func Params(m any) []Param {
	var ps []Param
	walk(reflect.ValueOf(m), "", func(v reflect.Value, prefix string) bool {
		if v.Type() != varType {
			return false
		}
		ps = append(ps, Param{Name: prefix[:len(prefix)-1], Var: v.Interface().(*autograd.Var)})
		return true
	})
	return ps
}

// walk visits the non-nil pointers in the fields Params follows, each
// under its name as a prefix ("name." and so on); where visit reports it
// took the pointer, walk does not go into it.
func walk(v reflect.Value, prefix string, visit func(v reflect.Value, prefix string) bool) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() || visit(v, prefix) {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag, ok := t.Field(i).Tag.Lookup("attn")
			if !ok || tag == "-" || !t.Field(i).IsExported() {
				continue
			}
			if tag == ",inline" {
				walk(v.Field(i), prefix, visit)
			} else {
				walk(v.Field(i), prefix+tag+".", visit)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), prefix+strconv.Itoa(i)+".", visit)
		}
	}
}

// Unique returns the distinct parameter variables of ps in first-seen order,
// so an optimizer updates a tied weight once.
func Unique(ps []Param) []*autograd.Var {
	seen := map[*autograd.Var]bool{}
	var vs []*autograd.Var
	for _, p := range ps {
		if !seen[p.Var] {
			seen[p.Var] = true
			vs = append(vs, p.Var)
		}
	}
	return vs
}

// Count returns the number of distinct scalar parameters in ps.
func Count(ps []Param) int {
	n := 0
	for _, v := range Unique(ps) {
		n += tensor.Size(v.Value.Shape) // also a weight whose values moved (8 bits, another layout)
	}
	return n
}

// ZeroGrad drops the gradients of all parameters in ps (see
// autograd.Var.ZeroGrad).
func ZeroGrad(ps []Param) {
	for _, p := range ps {
		p.ZeroGrad()
	}
}

// Load copies tensors into the parameters of ps by name: get returns the
// data and shape stored under a name, or ok = false if there is none. Every
// parameter must be present with its exact shape, except that a tied
// parameter (one variable under several names) needs only one of its names
// stored, as checkpoints keep shared tensors once.
func Load(ps []Param, get func(name string) (data []float32, shape []int, ok bool, err error)) error {
	loaded := map[*autograd.Var]bool{}
	for _, p := range ps {
		data, shape, ok, err := get(p.Name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if !tensor.EqualShape(shape, p.Value.Shape) {
			return fmt.Errorf("nn: tensor %q: shape %v does not match the model's %v", p.Name, shape, p.Value.Shape)
		}
		copy(p.Value.Data, data)
		loaded[p.Var] = true
	}
	for _, p := range ps {
		if !loaded[p.Var] {
			return fmt.Errorf("nn: missing tensor %q", p.Name)
		}
	}
	return nil
}

// newParam returns a parameter of the given shape filled by init.
func newParam(init func(*tensor.Tensor), shape ...int) *autograd.Var {
	t := tensor.New(shape...)
	if init != nil {
		init(t)
	}
	return autograd.NewParam(t)
}
