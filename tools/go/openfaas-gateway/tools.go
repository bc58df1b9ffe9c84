//go:build tools

package tools

import _ "github.com/openfaas/faas/gateway"
