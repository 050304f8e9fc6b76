package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/tandem-streaming/tandem/internal/restapi"
)

// Confluent REST error codes. The REST v3 error body is
// {"error_code":int,"message":string}; error_code is the HTTP status times
// 100 plus a sub-code for errors that come from Kafka, and just the HTTP
// status for generic HTTP errors (unknown route, wrong method, malformed
// body), as Confluent's rest-utils does.
//
// Kafka error (kerr, found with errors.As)   HTTP  error_code
// ------------------------------------------ ----- ----------
// UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID 404  40403
// TOPIC_ALREADY_EXISTS                         400  40002
// INVALID_TOPIC_EXCEPTION                      400  40002
// INVALID_PARTITIONS                           400  40002
// INVALID_REPLICATION_FACTOR                   400  40002
// INVALID_REPLICA_ASSIGNMENT                   400  40002
// INVALID_CONFIG                               400  40002
// INVALID_REQUEST                              400  40002
// POLICY_VIOLATION                             400  40002
// UNSUPPORTED_VERSION                          400  40035
// SASL_AUTHENTICATION_FAILED                   401  40101
// *_AUTHORIZATION_FAILED                       403  40301
// any other retriable Kafka error              500  50003
// anything else (non-retriable or non-Kafka)   500  50001
//
// Confluent's REST server reports every "bad request" Kafka exception with
// the one code 40002 (documented in cluster-linking.md §5 for "topic
// exists"); we follow that rather than inventing a code per Kafka error,
// because clients branch on the HTTP status, and the message names the
// object and the fix (docs/HACKING.md "Errors users read"). A context deadline is treated like REQUEST_TIMED_OUT
// (retriable).
const (
	codeKafkaBadRequest      = 40002
	codeUnsupportedVersion   = 40035
	codeAuthenticationFailed = 40101
	codeAuthorizationFailed  = 40301
	codeUnknownTopicOrPart   = 40403
	codeServerError          = 50001
	codeRetriable            = 50003
)

// apiError is an error produced by the REST layer itself (validation,
// routing, not-found resources that are not Kafka errors). It carries its
// own HTTP status and error_code.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// httpError builds a generic error whose error_code is the HTTP status.
func httpError(status int, format string, args ...any) *apiError {
	return &apiError{status: status, code: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return httpError(http.StatusBadRequest, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return httpError(http.StatusNotFound, format, args...)
}

// errorBody is the Confluent error envelope, which clients decode too.
type errorBody = restapi.ErrorBody

// kafkaStatus maps Kafka error codes with a specific REST meaning; codes
// not in the map fall through to the retriable / server-error default.
var kafkaStatus = map[int16]struct{ status, code int }{
	kerr.UnknownTopicOrPartition.Code:            {http.StatusNotFound, codeUnknownTopicOrPart},
	kerr.UnknownTopicID.Code:                     {http.StatusNotFound, codeUnknownTopicOrPart},
	kerr.TopicAlreadyExists.Code:                 {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.InvalidTopicException.Code:              {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.InvalidPartitions.Code:                  {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.InvalidReplicationFactor.Code:           {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.InvalidReplicaAssignment.Code:           {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.InvalidConfig.Code:                      {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.InvalidRequest.Code:                     {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.PolicyViolation.Code:                    {http.StatusBadRequest, codeKafkaBadRequest},
	kerr.UnsupportedVersion.Code:                 {http.StatusBadRequest, codeUnsupportedVersion},
	kerr.SaslAuthenticationFailed.Code:           {http.StatusUnauthorized, codeAuthenticationFailed},
	kerr.TopicAuthorizationFailed.Code:           {http.StatusForbidden, codeAuthorizationFailed},
	kerr.GroupAuthorizationFailed.Code:           {http.StatusForbidden, codeAuthorizationFailed},
	kerr.ClusterAuthorizationFailed.Code:         {http.StatusForbidden, codeAuthorizationFailed},
	kerr.TransactionalIDAuthorizationFailed.Code: {http.StatusForbidden, codeAuthorizationFailed},
	kerr.DelegationTokenAuthorizationFailed.Code: {http.StatusForbidden, codeAuthorizationFailed},
}

// mapError turns any error into an HTTP status and Confluent error body.
func mapError(err error) (int, errorBody) {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae.status, errorBody{ErrorCode: ae.code, Message: ae.msg}
	}
	msg := err.Error()
	if ke, ok := errors.AsType[*kerr.Error](err); ok && ke != nil {
		if s, ok := kafkaStatus[ke.Code]; ok {
			return s.status, errorBody{ErrorCode: s.code, Message: msg}
		}
		if ke.Retriable {
			return http.StatusInternalServerError, errorBody{ErrorCode: codeRetriable, Message: msg}
		}
		return http.StatusInternalServerError, errorBody{ErrorCode: codeServerError, Message: msg}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusInternalServerError, errorBody{ErrorCode: codeRetriable, Message: msg}
	}
	return http.StatusInternalServerError, errorBody{ErrorCode: codeServerError, Message: msg}
}
