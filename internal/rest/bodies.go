package rest

import "github.com/tandem-streaming/tandem/internal/restapi"

// Request bodies are the restapi types that clients send (one definition
// for both sides); the local names keep the handlers short. A decode
// error names the JSON type a field wants ("array", "object", "string",
// "int16"), never a Go type (decodeError).
type (
	configKVInput    = restapi.ConfigValue
	alterConfigEntry = restapi.AlterConfig
	updateConfigBody = restapi.UpdateConfigRequest
	alterMirrorsBody = restapi.AlterMirrorsRequest
	createLinkBody   = restapi.CreateLinkRequest
	createMirrorBody = restapi.CreateMirrorRequest
	alterConfigsBody = restapi.AlterConfigsRequest
)
