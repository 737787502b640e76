// Command cni-driver is the container runtime used by rscni-py's integration
// tests. It plays the part of a runtime such as cnitool: it loads a network
// configuration (list) from a file and runs it through libcni, the reference
// runtime library, against a real network namespace. Its output is a single
// JSON object on stdout so that the Python tests can assert on it directly:
//
//	{"ok": true, "result": <value>}
//	{"ok": false, "error": {"code": N, "msg": "...", "details": "..."}, "message": "..."}
//
// "error" keeps the CNI error code when the failure came from a plugin (libcni
// returns a *types.Error for those); any other failure gets code -1.
// "message" is libcni's full error text, including the "plugin ... failed
// (add):" prefix it adds around plugin errors.
//
// The exit status is 0 whenever libcni was called, whether the CNI operation
// succeeded or not. Exit status 2 means the driver itself could not run
// (bad flags, unreadable configuration file); the reason is on stderr.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/types/create"
)

const usage = `usage: cni-driver add|check|del|version|validate CONFIG_FILE --cache-dir DIR
       [--netns PATH] [--ifname NAME] [--container-id ID] [--cni-path P1:P2]
       [--args 'K=V;K2=V2'] [--capability-args JSON] [--timeout SECONDS]
       cni-driver convert RESULT_FILE VERSION...

CONFIG_FILE ending in .conflist is a network configuration list; a file
ending in .conf or .json holds one plugin configuration and is wrapped into a
single-entry list, as libcni does when it loads a lone .conf file.

convert reads RESULT_FILE as a result of the version its cniVersion names and
prints it converted to each VERSION, as libcni's types package does it.
`

// options are the parsed command-line arguments.
type options struct {
	command        string
	configFile     string
	cacheDir       string
	netns          string
	ifname         string
	containerID    string
	cniPath        string
	pluginArgs     [][2]string
	capabilityArgs map[string]interface{}
	timeout        time.Duration
}

// errorBody mirrors the CNI error object, except that code is signed so that
// failures which did not come from a plugin can be told apart with -1.
type errorBody struct {
	Code    int64  `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details"`
}

type reply struct {
	OK      bool        `json:"ok"`
	Result  interface{} `json:"result,omitempty"`
	Error   *errorBody  `json:"error,omitempty"`
	Message string      `json:"message,omitempty"`
}

// pluginVersion is one entry of the "version" command's result.
type pluginVersion struct {
	Type              string   `json:"type"`
	CNIVersion        string   `json:"cniVersion"`
	SupportedVersions []string `json:"supportedVersions"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "convert" {
		convertMain(os.Args[2:])
		return
	}
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cni-driver: %v\n\n%s", err, usage)
		os.Exit(2)
	}
	list, loadErr, fatal := loadConfig(opts.configFile)
	if fatal != nil {
		fmt.Fprintf(os.Stderr, "cni-driver: %v\n", fatal)
		os.Exit(2)
	}

	var out reply
	if loadErr != nil {
		// libcni rejected the configuration itself; that is a result the
		// tests want to see, not a driver failure.
		out = failure(loadErr)
	} else {
		out = run(opts, list)
	}
	encoded, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cni-driver: cannot encode reply: %v\n", err)
		os.Exit(2)
	}
	os.Stdout.Write(append(encoded, '\n'))
}

func parseArgs(args []string) (*options, error) {
	if len(args) == 0 {
		return nil, errors.New("missing command")
	}
	opts := &options{command: args[0]}
	switch opts.command {
	case "add", "check", "del", "version", "validate":
	default:
		return nil, fmt.Errorf("unknown command %q", opts.command)
	}

	fs := flag.NewFlagSet("cni-driver", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.StringVar(&opts.cacheDir, "cache-dir", "", "libcni cache directory (required)")
	fs.StringVar(&opts.netns, "netns", "", "network namespace path (CNI_NETNS)")
	fs.StringVar(&opts.ifname, "ifname", "", "interface name in the container (CNI_IFNAME)")
	fs.StringVar(&opts.containerID, "container-id", "", "container ID (CNI_CONTAINERID)")
	fs.StringVar(&opts.cniPath, "cni-path", "/usr/lib/cni", "plugin search path (CNI_PATH)")
	rawArgs := fs.String("args", "", "CNI_ARGS as K=V;K2=V2")
	rawCaps := fs.String("capability-args", "", "capability arguments as a JSON object")
	timeout := fs.Float64("timeout", 60, "seconds before the plugin calls are cancelled")

	// The config file comes first in our interface, but the flag package
	// stops at the first positional argument, so take it off the front.
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		opts.configFile = rest[0]
		rest = rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return nil, err
	}
	if opts.configFile == "" && fs.NArg() > 0 {
		opts.configFile = fs.Arg(0)
		if fs.NArg() > 1 {
			return nil, fmt.Errorf("unexpected arguments %q", fs.Args()[1:])
		}
	} else if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if opts.configFile == "" {
		return nil, errors.New("missing CONFIG_FILE")
	}
	// Without an explicit cache directory libcni would write to
	// /var/lib/cni; the tests must never do that.
	if opts.cacheDir == "" {
		return nil, errors.New("--cache-dir is required")
	}
	if *timeout <= 0 {
		return nil, fmt.Errorf("--timeout must be positive, got %v", *timeout)
	}
	opts.timeout = time.Duration(*timeout * float64(time.Second))

	if *rawArgs != "" {
		for _, pair := range strings.Split(*rawArgs, ";") {
			kv := strings.SplitN(pair, "=", 2)
			if len(kv) != 2 || kv[0] == "" {
				return nil, fmt.Errorf("--args: %q is not KEY=VALUE", pair)
			}
			opts.pluginArgs = append(opts.pluginArgs, [2]string{kv[0], kv[1]})
		}
	}
	if *rawCaps != "" {
		if err := json.Unmarshal([]byte(*rawCaps), &opts.capabilityArgs); err != nil {
			return nil, fmt.Errorf("--capability-args: not a JSON object: %v", err)
		}
	}
	return opts, nil
}

// loadConfig returns the network list, or the error libcni gave while parsing
// it, or (third value) a failure to read the file at all.
func loadConfig(path string) (*libcni.NetworkConfigList, error, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	switch filepath.Ext(path) {
	case ".conflist":
		list, err := libcni.ConfListFromBytes(raw)
		return list, err, nil
	case ".conf", ".json":
		conf, err := libcni.ConfFromBytes(raw)
		if err != nil {
			return nil, err, nil
		}
		list, err := libcni.ConfListFromConf(conf)
		return list, err, nil
	default:
		return nil, nil, fmt.Errorf("%s: expected a .conflist, .conf or .json file", path)
	}
}

func run(opts *options, list *libcni.NetworkConfigList) reply {
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()

	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(opts.cniPath), opts.cacheDir, nil)
	rt := &libcni.RuntimeConf{
		ContainerID:    opts.containerID,
		NetNS:          opts.netns,
		IfName:         opts.ifname,
		Args:           opts.pluginArgs,
		CapabilityArgs: opts.capabilityArgs,
		CacheDir:       opts.cacheDir,
	}

	switch opts.command {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			return failure(err)
		}
		// Re-encode the typed result libcni produced, so the tests see
		// what the runtime understood rather than what the plugin printed.
		encoded, err := json.Marshal(res)
		if err != nil {
			return failure(fmt.Errorf("cannot encode the result: %w", err))
		}
		return reply{OK: true, Result: json.RawMessage(encoded)}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			return failure(err)
		}
		return reply{OK: true}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			return failure(err)
		}
		return reply{OK: true}
	case "validate":
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			return failure(err)
		}
		sort.Strings(caps)
		return reply{OK: true, Result: map[string][]string{"capabilities": caps}}
	case "version":
		versions := []pluginVersion{}
		for _, plugin := range list.Plugins {
			info, err := cni.GetVersionInfo(ctx, plugin.Network.Type)
			if err != nil {
				return failure(err)
			}
			// PluginInfo only exposes the supported versions; its encoded
			// form also carries the cniVersion the plugin answered with.
			var buf bytes.Buffer
			if err := info.Encode(&buf); err != nil {
				return failure(err)
			}
			entry := pluginVersion{Type: plugin.Network.Type}
			if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
				return failure(err)
			}
			entry.Type = plugin.Network.Type
			versions = append(versions, entry)
		}
		return reply{OK: true, Result: versions}
	}
	panic("unreachable: command was checked in parseArgs")
}

func failure(err error) reply {
	var cniErr *types.Error
	body := &errorBody{Code: -1, Msg: err.Error()}
	if errors.As(err, &cniErr) {
		body = &errorBody{Code: int64(cniErr.Code), Msg: cniErr.Msg, Details: cniErr.Details}
	}
	return reply{OK: false, Error: body, Message: err.Error()}
}

// convertMain is "cni-driver convert RESULT_FILE VERSION...". It prints one
// reply: on success its result maps each VERSION to a reply holding the result
// converted to that version (GetAsVersion) and encoded again, or the error the
// conversion gave. A result that does not parse is a reply with ok false.
func convertMain(args []string) {
	if len(args) < 2 {
		fmt.Fprintf(os.Stderr, "cni-driver: convert needs RESULT_FILE and at least one VERSION\n\n%s", usage)
		os.Exit(2)
	}
	raw, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cni-driver: %v\n", err)
		os.Exit(2)
	}
	out := reply{OK: true}
	parsed, err := create.CreateFromBytes(raw)
	if err != nil {
		out = failure(err)
	} else {
		converted := map[string]reply{}
		for _, version := range args[1:] {
			converted[version] = convertTo(parsed, version)
		}
		out.Result = converted
	}
	encoded, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cni-driver: cannot encode reply: %v\n", err)
		os.Exit(2)
	}
	os.Stdout.Write(append(encoded, '\n'))
}

func convertTo(result types.Result, version string) reply {
	converted, err := result.GetAsVersion(version)
	if err != nil {
		return failure(err)
	}
	encoded, err := json.Marshal(converted)
	if err != nil {
		return failure(fmt.Errorf("cannot encode the result: %w", err))
	}
	return reply{OK: true, Result: json.RawMessage(encoded)}
}
