// Generated from crds/terminalsession.yaml by scripts/generate-crd-schema.ts: do not edit.
// terminalsessions.cloudterm.io v1alpha1, spec.versions[0].schema.openAPIV3Schema.
import type { JsonSchema } from './json-schema.js';

export const TERMINAL_SESSION_SCHEMA: JsonSchema = {
  "type": "object",
  "description": "A browser terminal in this namespace, run by CloudTerm's agent in a pod of its own.",
  "required": [
    "spec"
  ],
  "x-kubernetes-validations": [
    {
      "rule": "!has(self.metadata.name) || self.metadata.name.size() <= 50",
      "message": "metadata.name must be at most 50 characters: the session's pod, ServiceAccount and RoleBinding are named after it within Kubernetes' 63-character limits"
    }
  ],
  "properties": {
    "apiVersion": {
      "type": "string"
    },
    "kind": {
      "type": "string"
    },
    "metadata": {
      "type": "object"
    },
    "spec": {
      "type": "object",
      "description": "Who owns the session, what runs in it, who may join, how long it lives and what rights its shell has.",
      "required": [
        "owner"
      ],
      "x-kubernetes-validations": [
        {
          "rule": "duration(self.idleTimeout) <= duration(self.maxLifetime)",
          "message": "spec.idleTimeout must not be longer than spec.maxLifetime"
        },
        {
          "rule": "!has(self.viewers) || self.viewers.all(v, v.user != self.owner)",
          "message": "spec.viewers must not list the owner, who always has rw"
        },
        {
          "rule": "!has(self.access) || !has(self.env) || !self.env.exists(e, e.name == 'KUBECONFIG')",
          "message": "spec.env must not set KUBECONFIG when spec.access is set: the operator points it at the session's own kubeconfig"
        },
        {
          "rule": "has(self.command) == has(oldSelf.command) && (!has(self.command) || self.command == oldSelf.command)",
          "message": "spec.command is immutable: a session runs one shell; create a new TerminalSession instead"
        },
        {
          "rule": "has(self.args) == has(oldSelf.args) && (!has(self.args) || self.args == oldSelf.args)",
          "message": "spec.args is immutable: a session runs one shell; create a new TerminalSession instead"
        },
        {
          "rule": "has(self.env) == has(oldSelf.env) && (!has(self.env) || self.env == oldSelf.env)",
          "message": "spec.env is immutable: a session runs one shell; create a new TerminalSession instead"
        },
        {
          "rule": "has(self.workingDir) == has(oldSelf.workingDir) && (!has(self.workingDir) || self.workingDir == oldSelf.workingDir)",
          "message": "spec.workingDir is immutable: a session runs one shell; create a new TerminalSession instead"
        },
        {
          "rule": "has(self.resources) == has(oldSelf.resources) && (!has(self.resources) || self.resources == oldSelf.resources)",
          "message": "spec.resources is immutable: a session runs one shell; create a new TerminalSession instead"
        },
        {
          "rule": "has(self.access) == has(oldSelf.access) && (!has(self.access) || self.access == oldSelf.access)",
          "message": "spec.access is immutable: the shell's rights are fixed when it starts; create a new TerminalSession instead"
        }
      ],
      "properties": {
        "owner": {
          "type": "string",
          "description": "The user the session belongs to, as the gateway's authentication names them. Immutable.",
          "minLength": 1,
          "maxLength": 253,
          "pattern": "^[^\\s](.*[^\\s])?$",
          "x-kubernetes-validations": [
            {
              "rule": "self == oldSelf",
              "message": "spec.owner is immutable"
            }
          ]
        },
        "image": {
          "type": "string",
          "description": "The container image; it must carry the cloudterm entrypoint. Immutable.",
          "default": "ghcr.io/cloudterm/cloudterm:0.1.0",
          "maxLength": 512,
          "pattern": "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$",
          "x-kubernetes-validations": [
            {
              "rule": "self == oldSelf",
              "message": "spec.image is immutable: a session runs one shell; create a new TerminalSession instead"
            }
          ]
        },
        "command": {
          "type": "array",
          "description": "The program the agent starts in the terminal, and its first arguments (default, the login shell of the image's user). Immutable.",
          "minItems": 1,
          "maxItems": 64,
          "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 4096
          }
        },
        "args": {
          "type": "array",
          "description": "Arguments after command. Immutable.",
          "maxItems": 256,
          "items": {
            "type": "string",
            "maxLength": 4096
          }
        },
        "env": {
          "type": "array",
          "description": "The shell's environment, literal values only. Immutable.",
          "maxItems": 128,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": [
            "name"
          ],
          "items": {
            "type": "object",
            "required": [
              "name"
            ],
            "properties": {
              "name": {
                "description": "The variable name.",
                "type": "string",
                "minLength": 1,
                "maxLength": 256,
                "pattern": "^[-._a-zA-Z][-._a-zA-Z0-9]*$",
                "x-kubernetes-validations": [
                  {
                    "rule": "!self.startsWith('CLOUDTERM_')",
                    "message": "spec.env names starting with CLOUDTERM_ are reserved for the agent"
                  }
                ]
              },
              "value": {
                "description": "Its literal value.",
                "type": "string",
                "maxLength": 32768
              }
            }
          }
        },
        "workingDir": {
          "type": "string",
          "description": "The shell's working directory, an absolute path (default, its home). Immutable.",
          "maxLength": 4096,
          "pattern": "^/"
        },
        "resources": {
          "type": "object",
          "description": "The pod's compute resources; values left out get the operator's defaults. Immutable.",
          "properties": {
            "requests": {
              "description": "What the pod is guaranteed.",
              "type": "object",
              "properties": {
                "cpu": {
                  "description": "A quantity, an integer or a string like 500m, 64Mi or 1G.",
                  "anyOf": [
                    {
                      "type": "integer"
                    },
                    {
                      "type": "string"
                    }
                  ],
                  "x-kubernetes-int-or-string": true,
                  "pattern": "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
                },
                "memory": {
                  "description": "A quantity, an integer or a string like 500m, 64Mi or 1G.",
                  "anyOf": [
                    {
                      "type": "integer"
                    },
                    {
                      "type": "string"
                    }
                  ],
                  "x-kubernetes-int-or-string": true,
                  "pattern": "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
                },
                "ephemeral-storage": {
                  "description": "A quantity, an integer or a string like 500m, 64Mi or 1G.",
                  "anyOf": [
                    {
                      "type": "integer"
                    },
                    {
                      "type": "string"
                    }
                  ],
                  "x-kubernetes-int-or-string": true,
                  "pattern": "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
                }
              }
            },
            "limits": {
              "description": "What the pod may use at most.",
              "type": "object",
              "properties": {
                "cpu": {
                  "description": "A quantity, an integer or a string like 500m, 64Mi or 1G.",
                  "anyOf": [
                    {
                      "type": "integer"
                    },
                    {
                      "type": "string"
                    }
                  ],
                  "x-kubernetes-int-or-string": true,
                  "pattern": "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
                },
                "memory": {
                  "description": "A quantity, an integer or a string like 500m, 64Mi or 1G.",
                  "anyOf": [
                    {
                      "type": "integer"
                    },
                    {
                      "type": "string"
                    }
                  ],
                  "x-kubernetes-int-or-string": true,
                  "pattern": "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
                },
                "ephemeral-storage": {
                  "description": "A quantity, an integer or a string like 500m, 64Mi or 1G.",
                  "anyOf": [
                    {
                      "type": "integer"
                    },
                    {
                      "type": "string"
                    }
                  ],
                  "x-kubernetes-int-or-string": true,
                  "pattern": "^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"
                }
              }
            }
          }
        },
        "idleTimeout": {
          "type": "string",
          "description": "The session ends after this long without input or output, a duration like 30m or 1h30m (1m to 24h).",
          "default": "30m",
          "minLength": 2,
          "maxLength": 32,
          "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$",
          "x-kubernetes-validations": [
            {
              "rule": "duration(self) >= duration('1m') && duration(self) <= duration('24h')",
              "message": "spec.idleTimeout must be between 1m and 24h"
            }
          ]
        },
        "maxLifetime": {
          "type": "string",
          "description": "The session ends this long after it started, active or not, a duration like 8h (1m to 168h).",
          "default": "8h",
          "minLength": 2,
          "maxLength": 32,
          "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$",
          "x-kubernetes-validations": [
            {
              "rule": "duration(self) >= duration('1m') && duration(self) <= duration('168h')",
              "message": "spec.maxLifetime must be between 1m and 168h (7 days)"
            }
          ]
        },
        "viewers": {
          "type": "array",
          "description": "Who else may attach, each rw (may type) or ro (may only watch).",
          "maxItems": 64,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": [
            "user"
          ],
          "items": {
            "type": "object",
            "required": [
              "user"
            ],
            "properties": {
              "user": {
                "description": "A user name as the gateway knows it.",
                "type": "string",
                "minLength": 1,
                "maxLength": 253,
                "pattern": "^[^\\s](.*[^\\s])?$"
              },
              "role": {
                "description": "rw may type; ro may only watch.",
                "type": "string",
                "enum": [
                  "rw",
                  "ro"
                ],
                "default": "ro"
              }
            }
          }
        },
        "record": {
          "type": "boolean",
          "description": "Record the session as an asciicast that outlives the pod and that the shell cannot change. Immutable.",
          "default": false,
          "x-kubernetes-validations": [
            {
              "rule": "self == oldSelf",
              "message": "spec.record is immutable: a recording covers the whole session or none of it"
            }
          ]
        },
        "size": {
          "type": "object",
          "description": "The terminal's size before any client resizes it. Immutable.",
          "default": {},
          "x-kubernetes-validations": [
            {
              "rule": "self == oldSelf",
              "message": "spec.size is immutable: it is the size the shell started with; clients resize the terminal itself"
            }
          ],
          "properties": {
            "cols": {
              "description": "Columns, 20 to 1000.",
              "type": "integer",
              "minimum": 20,
              "maximum": 1000,
              "default": 80
            },
            "rows": {
              "description": "Rows, 5 to 500.",
              "type": "integer",
              "minimum": 5,
              "maximum": 500,
              "default": 24
            }
          }
        },
        "access": {
          "type": "object",
          "description": "Cluster rights for the shell, none when absent. A ServiceAccount of the session's own, bound in this namespace by a RoleBinding to the named Role or ClusterRole. Immutable.",
          "required": [
            "role"
          ],
          "properties": {
            "role": {
              "description": "The role bound to the session's ServiceAccount in this namespace.",
              "type": "object",
              "required": [
                "kind",
                "name"
              ],
              "properties": {
                "kind": {
                  "description": "Role (of this namespace) or ClusterRole.",
                  "type": "string",
                  "enum": [
                    "Role",
                    "ClusterRole"
                  ]
                },
                "name": {
                  "type": "string",
                  "description": "A Role in this namespace or a ClusterRole the installation lists as grantable.",
                  "minLength": 1,
                  "maxLength": 253,
                  "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
                }
              }
            }
          }
        },
        "keepAfterEnd": {
          "type": "boolean",
          "description": "Keep the TerminalSession after the session ended, instead of deleting it after ttlAfterEnd.",
          "default": false
        },
        "ttlAfterEnd": {
          "type": "string",
          "description": "How long an ended TerminalSession stays for its status to be read, a duration up to 720h (0s, at once).",
          "default": "1h",
          "minLength": 2,
          "maxLength": 32,
          "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$",
          "x-kubernetes-validations": [
            {
              "rule": "duration(self) <= duration('720h')",
              "message": "spec.ttlAfterEnd must be at most 720h (30 days)"
            }
          ]
        }
      }
    },
    "status": {
      "type": "object",
      "description": "Written by the operator.",
      "properties": {
        "phase": {
          "description": "Pending, Running, Succeeded, Failed or Expired.",
          "type": "string",
          "enum": [
            "Pending",
            "Running",
            "Succeeded",
            "Failed",
            "Expired"
          ]
        },
        "podName": {
          "description": "The pod running the agent.",
          "type": "string",
          "maxLength": 253
        },
        "endpoint": {
          "type": "string",
          "description": "The agent's base URL the gateway dials.",
          "maxLength": 512
        },
        "startedAt": {
          "description": "When the agent became ready.",
          "type": "string",
          "format": "date-time"
        },
        "lastActivityAt": {
          "description": "The last input or output the agent saw.",
          "type": "string",
          "format": "date-time"
        },
        "expiresAt": {
          "description": "When the session ends if nothing else happens, the earlier of lastActivityAt + idleTimeout and startedAt + maxLifetime.",
          "type": "string",
          "format": "date-time"
        },
        "endedAt": {
          "description": "When the session ended.",
          "type": "string",
          "format": "date-time"
        },
        "attached": {
          "description": "Clients attached now.",
          "type": "integer",
          "minimum": 0
        },
        "exitCode": {
          "description": "The shell's exit code, once it exited.",
          "type": "integer"
        },
        "serviceAccountName": {
          "description": "The shell's ServiceAccount, when spec.access asked for rights.",
          "type": "string",
          "maxLength": 253
        },
        "recording": {
          "type": "string",
          "description": "Where the recording is kept.",
          "maxLength": 1024
        },
        "conditions": {
          "description": "Ready, with a reason (docs/terminal-sessions.md lists them).",
          "type": "array",
          "maxItems": 16,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": [
            "type"
          ],
          "items": {
            "type": "object",
            "required": [
              "type",
              "status",
              "lastTransitionTime",
              "reason",
              "message"
            ],
            "properties": {
              "type": {
                "description": "The condition type (Ready).",
                "type": "string",
                "maxLength": 316,
                "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
              },
              "status": {
                "description": "True, False or Unknown.",
                "type": "string",
                "enum": [
                  "True",
                  "False",
                  "Unknown"
                ]
              },
              "observedGeneration": {
                "description": "The metadata.generation the condition was computed from.",
                "type": "integer",
                "format": "int64",
                "minimum": 0
              },
              "lastTransitionTime": {
                "description": "When the status last changed.",
                "type": "string",
                "format": "date-time"
              },
              "reason": {
                "description": "Why, in CamelCase.",
                "type": "string",
                "minLength": 1,
                "maxLength": 1024,
                "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
              },
              "message": {
                "description": "Why, for humans.",
                "type": "string",
                "maxLength": 32768
              }
            }
          }
        },
        "observedGeneration": {
          "description": "The metadata.generation the operator last acted on.",
          "type": "integer",
          "format": "int64",
          "minimum": 0
        },
        "message": {
          "description": "For humans, what is happening or why the session ended.",
          "type": "string",
          "maxLength": 32768
        }
      }
    }
  }
};
