//go:build !linux

package proc

import "errors"

var errNoPolicy = errors.New("scheduling policies are set on Linux only")

func setPolicy(uint32) (int, error)    { return 0, errNoPolicy }
func threadPolicy(int) (uint32, error) { return 0, errNoPolicy }

const (
	policyBatch = 3
	policyOther = 0
)

const batchSupported = false
