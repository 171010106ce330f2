//go:build !race

package sqlite

// raceEnabled reports that the race detector is on; slow tests skip.
const raceEnabled = false
