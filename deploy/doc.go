// Package deploy holds what runs socklab outside a developer's machine: the
// container image's Dockerfile and, in kubernetes/, the manifests of a
// sharded load (an Indexed Job of socklab load --shard, the ConfigMap of its
// flags, the volume its shards write to, and the pod that collects them).
//
// The package has no code of its own; its test decodes every manifest
// strictly into the Kubernetes API types it claims to be and checks that
// the manifests agree with each other and with socklab's flags, so that a
// typo fails CI rather than a user's run. README.md gives the flow.
package deploy
