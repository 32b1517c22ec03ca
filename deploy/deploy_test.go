package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifestDir holds what a user applies.
const manifestDir = "kubernetes"

// object is one decoded manifest document.
type object struct {
	file string
	kind string // apiVersion/kind
	name string
	obj  any // *batchv1.Job, *corev1.ConfigMap, ...
}

// kinds maps apiVersion/kind to a new value of the Go type the API server
// decodes it into. A manifest of any other kind fails the test: add it here
// with its type.
var kinds = map[string]func() any{
	"batch/v1/Job":             func() any { return new(batchv1.Job) },
	"v1/ConfigMap":             func() any { return new(corev1.ConfigMap) },
	"v1/PersistentVolumeClaim": func() any { return new(corev1.PersistentVolumeClaim) },
	"v1/Pod":                   func() any { return new(corev1.Pod) },
}

// decodeStrict decodes one YAML document into the type its apiVersion and
// kind name, as strictly as the API server's strict field validation: a
// duplicate key, an unknown field (a typo, or a field of another kind or
// version), a field whose case differs, or a value of the wrong type is an
// error.
func decodeStrict(doc []byte) (kind string, obj any, err error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", nil, fmt.Errorf("yaml: %w", err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return "", nil, fmt.Errorf("type meta: %w", err)
	}
	kind = tm.APIVersion + "/" + tm.Kind
	mk, ok := kinds[kind]
	if !ok {
		return kind, nil, fmt.Errorf("apiVersion %q kind %q: not a kind this test knows", tm.APIVersion, tm.Kind)
	}
	obj = mk()
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return kind, nil, fmt.Errorf("%s: %w", kind, err)
	}
	if err := errors.Join(strict...); err != nil {
		return kind, nil, fmt.Errorf("%s: %w", kind, err)
	}
	return kind, obj, nil
}

// documents splits a YAML stream into its documents ("---" separated),
// skipping empty ones.
func documents(r io.Reader) ([][]byte, error) {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs [][]byte
	for {
		d, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			docs = append(docs, d)
		}
	}
}

func stripComments(d []byte) []byte {
	var out []byte
	for l := range bytes.Lines(d) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l...)
		}
	}
	return out
}

// loadManifests decodes every document of every .yaml file in dir.
func loadManifests(t *testing.T, dir string) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	var objs []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := documents(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, d := range docs {
			kind, obj, err := decodeStrict(d)
			if err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
				continue
			}
			objs = append(objs, object{file: filepath.Base(f), kind: kind, name: nameOf(obj), obj: obj})
		}
	}
	return objs
}

func nameOf(obj any) string {
	switch o := obj.(type) {
	case *batchv1.Job:
		return o.Name
	case *corev1.ConfigMap:
		return o.Name
	case *corev1.PersistentVolumeClaim:
		return o.Name
	case *corev1.Pod:
		return o.Name
	}
	return ""
}

// TestManifestsDecodeStrictly: every manifest is a known kind that decodes
// without a duplicate, unknown or mistyped field, and has a name.
func TestManifestsDecodeStrictly(t *testing.T) {
	objs := loadManifests(t, manifestDir)
	seen := map[string]string{}
	for _, o := range objs {
		if o.name == "" {
			t.Errorf("%s: %s without metadata.name", o.file, o.kind)
		}
		k := o.kind + "/" + o.name
		if f, ok := seen[k]; ok {
			t.Errorf("%s %s is in %s and %s", o.kind, o.name, f, o.file)
		}
		seen[k] = o.file
	}
}

// TestDecodeStrictRefuses proves the decoder strict: each of these
// mistakes, made in a copy of the Job, is an error.
func TestDecodeStrictRefuses(t *testing.T) {
	job, err := os.ReadFile(filepath.Join(manifestDir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := decodeStrict(job); err != nil {
		t.Fatalf("job.yaml as it is: %v", err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"misspelt field", "parallelism:", "paralelism:"},
		{"field of another case", "parallelism:", "Parallelism:"},
		{"duplicate field", "  completions: 4 # N\n", "  completions: 4 # N\n  completions: 5\n"},
		{"wrong type", "completions: 4", `completions: "4"`},
		{"field at the wrong level", "      restartPolicy: Never", "      restartPolicy: Never\n      backoffLimit: 1"},
		{"unknown kind", "kind: Job", "kind: Jobs"},
		{"unknown version", "apiVersion: batch/v1", "apiVersion: batch/v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(job), tc.old, tc.new, 1)
			if bad == string(job) {
				t.Fatalf("%q is not in job.yaml", tc.old)
			}
			if _, _, err := decodeStrict([]byte(bad)); err == nil {
				t.Errorf("decoded without error")
			} else {
				t.Log(err)
			}
		})
	}
}

// theJob returns the one Indexed Job of the manifests and the other
// objects by kind and name.
func theJob(t *testing.T) (*batchv1.Job, map[string]any) {
	t.Helper()
	objs := loadManifests(t, manifestDir)
	byName := map[string]any{}
	var jobs []*batchv1.Job
	for _, o := range objs {
		byName[o.kind+"/"+o.name] = o.obj
		if j, ok := o.obj.(*batchv1.Job); ok {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) != 1 {
		t.Fatalf("%d Jobs in %s, want 1", len(jobs), manifestDir)
	}
	return jobs[0], byName
}

var shardFlag = regexp.MustCompile(`^--shard=\$\(JOB_COMPLETION_INDEX\)/(\d+)$`)

// TestJobIsShardedLoad: the Job is Indexed, runs each index once, and its
// N (completions, parallelism, --shard) is one number, written on the three
// lines marked "# N" that README.md's sed changes.
func TestJobIsShardedLoad(t *testing.T) {
	job, _ := theJob(t)
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("completionMode %v, want Indexed: JOB_COMPLETION_INDEX is the shard index", s.CompletionMode)
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism {
		t.Fatalf("completions %v, parallelism %v: want both N, so that every shard runs at once", s.Completions, s.Parallelism)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 0 {
		t.Errorf("backoffLimitPerIndex %v, want 0: a shard run again starts late", s.BackoffLimitPerIndex)
	}
	if p := s.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never", p)
	}
	cs := s.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	var n []string
	for _, a := range cs[0].Args {
		if m := shardFlag.FindStringSubmatch(a); m != nil {
			n = append(n, m[1])
		}
	}
	if len(n) != 1 || n[0] != strconv.Itoa(int(*s.Completions)) {
		t.Errorf("--shard=$(JOB_COMPLETION_INDEX)/N flags give N %v, want one, equal to completions %d", n, *s.Completions)
	}
	b, err := os.ReadFile(filepath.Join(manifestDir, "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	marked := regexp.MustCompile(`(?m)^\s*(-\s*--shard=\S*/|completions: |parallelism: )(\d+) # N$`).FindAllSubmatch(b, -1)
	if len(marked) != 3 {
		t.Fatalf("%d lines end in \"N # N\", want 3 (completions, parallelism, --shard)", len(marked))
	}
	for _, m := range marked {
		if string(m[2]) != n[0] {
			t.Errorf("%q: N %s, want %s", bytes.TrimSpace(m[0]), m[2], n[0])
		}
	}
}

// TestJobReferencesResolve: what the Job and the collector refer to exists
// in the manifests: every $(VAR) of their arguments is an env var or a key
// of a ConfigMap they read, every volume mount names a volume, every claim
// a PersistentVolumeClaim.
func TestJobReferencesResolve(t *testing.T) {
	job, byName := theJob(t)
	specs := map[string]corev1.PodSpec{"job " + job.Name: job.Spec.Template.Spec}
	for k, o := range byName {
		if p, ok := o.(*corev1.Pod); ok {
			specs[k] = p.Spec
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for what, spec := range specs {
		vols := map[string]bool{}
		for _, v := range spec.Volumes {
			vols[v.Name] = true
			if c := v.PersistentVolumeClaim; c != nil {
				if _, ok := byName["v1/PersistentVolumeClaim/"+c.ClaimName]; !ok {
					t.Errorf("%s: volume %s claims %s, which no manifest defines", what, v.Name, c.ClaimName)
				}
			}
		}
		for _, c := range spec.Containers {
			env := map[string]bool{}
			for _, e := range c.Env {
				env[e.Name] = true
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef == nil {
					continue
				}
				cm, ok := byName["v1/ConfigMap/"+ef.ConfigMapRef.Name].(*corev1.ConfigMap)
				if !ok {
					t.Errorf("%s: container %s reads ConfigMap %s, which no manifest defines", what, c.Name, ef.ConfigMapRef.Name)
					continue
				}
				for k := range cm.Data {
					env[ef.Prefix+k] = true
				}
			}
			for _, a := range slices.Concat(c.Command, c.Args) {
				for _, m := range ref.FindAllStringSubmatch(a, -1) {
					if !env[m[1]] {
						t.Errorf("%s: container %s: %q refers to $(%s), which is neither an env var nor a ConfigMap key: Kubernetes would pass it unexpanded", what, c.Name, a, m[1])
					}
				}
			}
			for _, m := range c.VolumeMounts {
				if !vols[m.Name] {
					t.Errorf("%s: container %s mounts %s, which is not a volume of the pod", what, c.Name, m.Name)
				}
			}
		}
	}
}

// TestJobFlagsAreSocklabs: the Job's arguments, expanded as Kubernetes
// expands them for shard 0, are flags that socklab load has, with values
// of their types: a misspelt flag or a RATE of "fast" fails here, not in a
// user's cluster.
func TestJobFlagsAreSocklabs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds socklab")
	}
	job, byName := theJob(t)
	c := job.Spec.Template.Spec.Containers[0]
	env := map[string]string{"JOB_COMPLETION_INDEX": "0"}
	for _, ef := range c.EnvFrom {
		if cm, ok := byName["v1/ConfigMap/"+ef.ConfigMapRef.Name].(*corev1.ConfigMap); ok {
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	var args []string
	for _, a := range c.Args {
		args = append(args, ref.ReplaceAllStringFunc(a, func(m string) string { return env[m[2:len(m)-1]] }))
	}
	if len(args) == 0 || args[0] != "load" {
		t.Fatalf("args %q: want socklab load", args)
	}
	flags := socklabFlags(t, "load")
	positional := 0
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			positional++
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		typ, ok := flags[name]
		if !ok {
			t.Errorf("%q: socklab load has no flag -%s", a, name)
			continue
		}
		if typ == "bool" {
			if hasValue {
				if _, err := strconv.ParseBool(value); err != nil {
					t.Errorf("%q: %v", a, err)
				}
			}
			continue
		}
		if !hasValue {
			t.Errorf("%q: give the value as -%s=VALUE: a manifest's argument is one word", a, name)
			continue
		}
		if err := checkValue(typ, value); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
	if positional != 1 {
		t.Errorf("args %q: %d positional arguments, want one: the target", args, positional)
	}
	if err := checkStartAt(env["START_AT"]); err != nil {
		t.Errorf("ConfigMap START_AT: %v", err)
	}
}

// checkValue checks a flag value against the type name that the flag
// package prints for it.
func checkValue(typ, v string) error {
	var err error
	switch typ {
	case "int", "int64", "uint", "uint64":
		_, err = strconv.ParseInt(v, 10, 64)
	case "float":
		_, err = strconv.ParseFloat(v, 64)
	case "duration":
		_, err = time.ParseDuration(v)
	}
	return err
}

// checkStartAt: the ConfigMap's START_AT is an RFC 3339 time, as
// --start-at takes it; README's flow replaces it for each run.
func checkStartAt(v string) error {
	_, err := time.Parse(time.RFC3339, v)
	return err
}

// socklabFlags builds socklab and returns the flags of cmd with the type
// names its -h prints ("int", "duration", "string", "bool" for none).
func socklabFlags(t *testing.T, cmd string) map[string]string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "socklab")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/socklab").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stderr bytes.Buffer
	h := exec.Command(bin, cmd, "-h")
	h.Stderr = &stderr
	if err := h.Run(); err != nil {
		t.Fatalf("socklab %s -h: %v\n%s", cmd, err, stderr.String())
	}
	// The flag package prints each flag as "  -name type" (the type left
	// out for a bool), its usage on the lines after, indented further.
	line := regexp.MustCompile(`(?m)^  -(\S+)(?: (\S+))?`)
	flags := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(stderr.String(), -1) {
		typ := m[2]
		if typ == "" {
			typ = "bool"
		}
		flags[m[1]] = typ
	}
	if len(flags) < 10 {
		t.Fatalf("socklab %s -h lists %d flags; the test misreads its output:\n%s", cmd, len(flags), stderr.String())
	}
	return flags
}
