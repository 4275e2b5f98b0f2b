// Package config holds the one configuration struct of every entravault role
// (dev, api, worker), fills it from command-line flags and ENTRAVAULT_*
// environment variables, and validates it at start so a bad value is a clear
// error naming the setting, never a panic later.
//
// It knows nothing of Temporal, Graph or storage beyond their settings and
// must not import them.
package config
