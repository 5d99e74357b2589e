// Command hashgolden writes the pod-template hash goldens that
// test/unit/api/hash.test.ts checks Kanary's TypeScript hash against.
//
// The hash is the one Argo Rollouts v1.10.x names ReplicaSets with: FNV-1a
// (32 bit) over encoding/json's bytes of the corev1.PodTemplateSpec, then the
// collision count (if any) as a little-endian uint32 in 8 bytes, printed in
// decimal and passed through k8s.io/apimachinery's rand.SafeEncodeString. The
// template is decoded as Argo's informer decodes a Rollout from the API server
// (sigs.k8s.io/json, case-sensitive) and re-marshalled once, as Argo's
// controller does before every sync. go.mod pins the k8s.io modules to the
// versions Argo Rollouts v1.10.2's go.mod pins, so the struct fields, their
// order and their omitempty/omitzero tags are the ones Argo's binary has.
//
// Inputs (read from the repository root):
//   - test/golden/hash/table.json: our own templates, plus the upstream
//     folders whose Rollouts' templates are hashed too (read in place from the
//     Go module cache; only their file, Rollout name and hash are written);
//   - the Rollouts under examples/ of this repository.
//
// Output: test/golden/hash/goldens.json. Regenerate with `npm run hash:goldens`.
// `go run . -print <name>` prints Go's JSON of one entry instead (for diffing).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

type tableEntry struct {
	Name           string          `json:"name"`
	Why            string          `json:"why,omitempty"`
	CollisionCount *int32          `json:"collisionCount,omitempty"`
	Template       json.RawMessage `json:"template"`
}

type upstreamSource struct {
	Module  string   `json:"module"`
	Version string   `json:"version"`
	Folders []string `json:"folders"`
}

type table struct {
	Templates []tableEntry     `json:"templates"`
	Upstream  []upstreamSource `json:"upstream"`
	Repo      []string         `json:"repo"`
}

// golden is one template's expected hash. Own templates also carry Go's JSON
// (to diff against ours); upstream ones only say where the template is.
type golden struct {
	Name           string `json:"name"`
	Module         string `json:"module,omitempty"`
	File           string `json:"file,omitempty"`
	Rollout        string `json:"rollout,omitempty"`
	Occurrence     int    `json:"occurrence,omitempty"`
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	JSON           string `json:"json,omitempty"`
	Hash           string `json:"hash,omitempty"`
	Error          string `json:"error,omitempty"`
}

type output struct {
	Comment    string   `json:"comment"`
	TableSHA   string   `json:"tableSha256"`
	Go         string   `json:"go"`
	K8sAPI     string   `json:"k8s.io/api"`
	Templates  []golden `json:"templates"`
	Upstream   []golden `json:"upstream"`
	Repository []golden `json:"repository"`
}

// podTemplateJSON decodes raw as Argo's Rollout informer does, re-marshals it
// as Argo's remarshalRollout does, and returns the bytes Argo hashes.
func podTemplateJSON(raw []byte) ([]byte, error) {
	var t corev1.PodTemplateSpec
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &t); err != nil {
		return nil, err
	}
	once, err := json.Marshal(&t)
	if err != nil {
		return nil, err
	}
	var again corev1.PodTemplateSpec
	if err := json.Unmarshal(once, &again); err != nil {
		return nil, err
	}
	return json.Marshal(&again)
}

func hashOf(b []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(b)
	if collisionCount != nil {
		buf := make([]byte, 8)
		binary.LittleEndian.PutUint32(buf, uint32(*collisionCount))
		h.Write(buf)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

func fill(g *golden, raw []byte, keepJSON bool) {
	b, err := podTemplateJSON(raw)
	if err != nil {
		g.Error = err.Error()
		return
	}
	if keepJSON {
		g.JSON = string(b)
	}
	g.Hash = hashOf(b, g.CollisionCount)
}

// rolloutTemplates returns each Rollout document of a YAML file with its name
// and raw spec.template (split and converted as kubectl does).
type rolloutDoc struct {
	name     string
	template json.RawMessage
}

func rolloutTemplates(path string) ([]rolloutDoc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var out []rolloutDoc
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			continue // not YAML (a Helm template, say): skipped by both sides
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Template json.RawMessage `json:"template"`
			} `json:"spec"`
		}
		if json.Unmarshal(j, &obj) != nil || obj.Kind != "Rollout" || len(obj.Spec.Template) == 0 || string(obj.Spec.Template) == "null" {
			continue
		}
		out = append(out, rolloutDoc{obj.Metadata.Name, obj.Spec.Template})
	}
}

var yamlFile = regexp.MustCompile(`\.ya?ml$`)

// scan hashes the Rollout templates of every YAML file under root/folder.
func scan(root, module string, folders []string) ([]golden, error) {
	var out []golden
	for _, folder := range folders {
		err := filepath.WalkDir(filepath.Join(root, folder), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !yamlFile.MatchString(p) {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			docs, err := rolloutTemplates(p)
			if err != nil {
				return nil // unreadable YAML stream: skipped
			}
			seen := map[string]int{}
			for _, d := range docs {
				g := golden{Module: module, File: rel, Rollout: d.name, Occurrence: seen[d.name]}
				seen[d.name]++
				g.Name = fmt.Sprintf("%s#%s", rel, d.name)
				if g.Occurrence > 0 {
					g.Name += fmt.Sprintf("[%d]", g.Occurrence)
				}
				fill(&g, d.template, false)
				out = append(out, g)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// moduleDir downloads (or finds in GOMODCACHE) a module and returns its folder.
// A module whose go.mod asks for a newer Go than ours is still extracted; only
// its files are read, so that error is not fatal.
func moduleDir(path, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	cmd.Dir = os.TempDir()
	out, _ := cmd.Output()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v", path, version, err)
	}
	if info.Dir != "" {
		return info.Dir, nil
	}
	if strings.Contains(info.Error, "requires go >=") {
		cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return "", err
		}
		escaped := regexp.MustCompile(`[A-Z]`).ReplaceAllStringFunc(path, func(c string) string { return "!" + strings.ToLower(c) })
		dir := filepath.Join(strings.TrimSpace(string(cache)), escaped+"@"+version)
		if _, err := os.Stat(dir); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("go mod download %s@%s: %s", path, version, info.Error)
}

func main() {
	root := flag.String("root", "../..", "repository root")
	printName := flag.String("print", "", "print Go's JSON of the entry with this name and exit")
	flag.Parse()

	raw, err := os.ReadFile(filepath.Join(*root, "test/golden/hash/table.json"))
	check(err)
	var t table
	check(json.Unmarshal(raw, &t))

	out := output{
		Comment:  "Generated by hack/hashgolden (npm run hash:goldens) with Go's encoding/json, hash/fnv and rand.SafeEncodeString; do not edit.",
		TableSHA: fmt.Sprintf("%x", sha256.Sum256(raw)),
		Go:       runtime.Version(),
		K8sAPI:   k8sAPIVersion(),
	}
	for _, e := range t.Templates {
		g := golden{Name: e.Name, CollisionCount: e.CollisionCount}
		fill(&g, e.Template, true)
		out.Templates = append(out.Templates, g)
	}
	for _, u := range t.Upstream {
		dir, err := moduleDir(u.Module, u.Version)
		check(err)
		gs, err := scan(dir, u.Module+"@"+u.Version, u.Folders)
		check(err)
		out.Upstream = append(out.Upstream, gs...)
		if *printName != "" {
			printEntry(*printName, dir, gs)
		}
	}
	repo, err := scan(*root, "", t.Repo)
	check(err)
	out.Repository = repo
	if *printName != "" {
		printEntry(*printName, *root, repo)
		for _, g := range out.Templates {
			if g.Name == *printName {
				fmt.Println(g.JSON)
				os.Exit(0)
			}
		}
		fmt.Fprintf(os.Stderr, "no entry named %q\n", *printName)
		os.Exit(1)
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	check(enc.Encode(out))
	check(os.WriteFile(filepath.Join(*root, "test/golden/hash/goldens.json"), buf.Bytes(), 0o644))
	fmt.Printf("hashgolden: %d own templates, %d upstream Rollouts, %d repository Rollouts\n",
		len(out.Templates), len(out.Upstream), len(out.Repository))
}

func printEntry(name, dir string, gs []golden) {
	for _, g := range gs {
		if g.Name != name {
			continue
		}
		docs, err := rolloutTemplates(filepath.Join(dir, g.File))
		check(err)
		n := 0
		for _, d := range docs {
			if d.name != g.Rollout {
				continue
			}
			if n == g.Occurrence {
				b, err := podTemplateJSON(d.template)
				check(err)
				fmt.Println(string(b))
				os.Exit(0)
			}
			n++
		}
	}
}

// k8sAPIVersion is the k8s.io/api version this binary was built with.
func k8sAPIVersion() string {
	if bi, ok := debugBuildInfo(); ok {
		for _, d := range bi {
			if d[0] == "k8s.io/api" {
				return d[1]
			}
		}
	}
	return "unknown"
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "hashgolden:", err)
		os.Exit(1)
	}
}
