package store

import (
	"errors"
	"fmt"
)

// ErrInvalidArgument is wrapped by Store methods when an argument is
// outside its documented range (for example a page limit outside
// 1..PageLimitMax); nothing is read or changed.
var ErrInvalidArgument = errors.New("store: invalid argument")

// CheckPageLimit returns nil if limit is in 1..PageLimitMax and otherwise
// an error wrapping ErrInvalidArgument. Drivers call it first in every list
// method that takes a limit, so all of them reject the same limits.
func CheckPageLimit(limit int) error {
	if limit < 1 || limit > PageLimitMax {
		return fmt.Errorf("store: page limit %d not in 1..%d: %w", limit, PageLimitMax, ErrInvalidArgument)
	}
	return nil
}
