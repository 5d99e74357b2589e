package main

import "runtime/debug"

// debugBuildInfo lists the module dependencies compiled in, as [path, version].
func debugBuildInfo() ([][2]string, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, false
	}
	var out [][2]string
	for _, d := range bi.Deps {
		out = append(out, [2]string{d.Path, d.Version})
	}
	return out, true
}
