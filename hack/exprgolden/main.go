// Command exprgolden evaluates the condition cases in test/golden/expr/cases.json
// with the real expr-lang (the version Argo Rollouts v1.10.2 pins) and writes
// test/golden/expr/results.json, which test/unit/analysis/expr.test.ts compares
// Kanary's own interpreter against.
//
//	go run . ../../test/golden/expr/cases.json ../../test/golden/expr/results.json
//
// The environment mirrors what an Argo Rollouts AnalysisRun gives a metric
// condition: `result` plus the helper functions asInt, asFloat, isNaN, isInf,
// isNil and default (written here from their documented behaviour). Each case is
// run with `result` decoded from JSON the way the web provider decodes a body
// (numbers are float64, objects map[string]any, arrays []any) and, when the
// result is a JSON array of numbers, once more as the []float64 that the
// Prometheus provider passes for a vector.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
)

type testCase struct {
	Name   string          `json:"name"`
	Expr   string          `json:"expr"`
	Result json.RawMessage `json:"result"`
}

type outcome struct {
	Name    string `json:"name"`
	Variant string `json:"variant"`
	Value   any    `json:"value,omitempty"`
	Type    string `json:"type,omitempty"`
	Error   bool   `json:"error,omitempty"`
	Phase   string `json:"phase,omitempty"`
	Message string `json:"message,omitempty"`
	Full    string `json:"full,omitempty"`
	// Condition is what Argo's EvalCondition would report for a non-boolean value.
	Condition string `json:"condition,omitempty"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: exprgolden CASES.json RESULTS.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	check(err)
	var cases []testCase
	check(json.Unmarshal(raw, &cases))
	seen := map[string]bool{}
	var out []outcome
	for _, c := range cases {
		if seen[c.Name] {
			check(fmt.Errorf("duplicate case name %q", c.Name))
		}
		seen[c.Name] = true
		var result any
		if len(c.Result) > 0 {
			check(json.Unmarshal(c.Result, &result))
		}
		result = special(result)
		out = append(out, run(c, "web", result))
		if floats, ok := floatSlice(result); ok {
			out = append(out, run(c, "prometheus", floats))
		}
	}
	// One result a line, so that a change of expr's behaviour shows as a small diff.
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, o := range out {
		line, err := json.Marshal(o)
		check(err)
		b.WriteString("  ")
		b.Write(line)
		if i < len(out)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	check(os.WriteFile(os.Args[2], b.Bytes(), 0o644))
}

func run(c testCase, variant string, result any) (o outcome) {
	o = outcome{Name: c.Name, Variant: variant}
	env := argoEnv(result)
	program, err := expr.Compile(c.Expr, expr.Env(env))
	if err != nil {
		return failed(o, "compile", err)
	}
	value, err := expr.Run(program, env)
	if err != nil {
		return failed(o, "run", err)
	}
	o.Value = encode(value)
	o.Type = fmt.Sprintf("%T", value)
	if _, ok := value.(bool); !ok {
		o.Condition = fmt.Sprintf("expected bool, but got %T", value)
	}
	return o
}

func failed(o outcome, phase string, err error) outcome {
	o.Error = true
	o.Phase = phase
	o.Full = err.Error()
	o.Message = err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		o.Message = fe.Message
	}
	return o
}

// argoEnv is the environment of an Argo Rollouts metric condition.
func argoEnv(result any) map[string]any {
	return map[string]any{
		"result":  result,
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"isNil":   func(any) bool { return isNil(result) },
		"default": func(_ any, fallback any) any {
			if isNil(result) {
				return fallback
			}
			return result
		},
	}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Ptr, reflect.Map, reflect.Array, reflect.Chan, reflect.Slice:
		return reflect.ValueOf(v).IsNil()
	}
	return false
}

func asInt(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int:
		return int64(n)
	case int64:
		return n
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			panic(err)
		}
		return i
	}
	panic(fmt.Sprintf("asInt() not supported on %v %v", reflect.TypeOf(v), v))
}

func asFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case string:
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			panic(err)
		}
		return f
	}
	panic(fmt.Sprintf("asFloat() not supported on %v %v", reflect.TypeOf(v), v))
}

// special turns {"$float": "NaN" | "+Inf" | "-Inf"} into that float64, as JSON
// has no literal for them and a Prometheus result can be NaN.
func special(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["$float"].(string); ok && len(x) == 1 {
			f, err := strconv.ParseFloat(s, 64)
			check(err)
			return f
		}
		for k, e := range x {
			x[k] = special(e)
		}
	case []any:
		for i, e := range x {
			x[i] = special(e)
		}
	}
	return v
}

func floatSlice(v any) ([]float64, bool) {
	arr, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]float64, 0, len(arr))
	for _, e := range arr {
		f, ok := e.(float64)
		if !ok {
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

// encode makes a value JSON-safe: NaN and infinities become {"$float": ...},
// slices of any element type become []any, maps get string keys.
func encode(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return map[string]any{"$float": strconv.FormatFloat(f, 'g', -1, 64)}
		}
		return f
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = encode(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			out[fmt.Sprint(k.Interface())] = encode(rv.MapIndex(k).Interface())
		}
		return out
	}
	return v
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "exprgolden:", err)
		os.Exit(1)
	}
}
