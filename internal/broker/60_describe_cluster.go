package broker

// DescribeCluster: v0-2
//
// Behaviour (KIP-700, KIP-919):
//   - The cluster id, this node as the only broker and as the controller id
//     (a single node is its own controller).
//   - EndpointType (v1+) 1 = brokers; 2 = controllers is
//     MISMATCHED_ENDPOINT_TYPE, as Kafka answers on a broker listener.
//   - IncludeFencedBrokers (v2+): no broker here is ever fenced.
//   - Authorized operations (KIP-430) are returned only when asked for: 0
//     without DESCRIBE on the cluster, else the cluster operations the
//     principal may perform. The request itself needs no permission, as in
//     Kafka (AuthHelper.computeDescribeClusterResponse): kadm's
//     DescribeCluster and every client's bootstrap still work.
//
// Version notes:
//   - v1: EndpointType; v2: IncludeFencedBrokers, IsFenced

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeCluster, 0, 2, (*Broker).handleDescribeCluster) }

func (b *Broker) handleDescribeCluster(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = 1
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.EndpointType = req.EndpointType
		resp.ErrorCode = kerr.MismatchedEndpointType.Code
		resp.ErrorMessage = kmsg.StringPtr("this listener serves brokers; controllers are not exposed")
		return now(resp)
	}
	resp.ClusterID = b.ClusterID()
	resp.ControllerID = b.nodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID = b.nodeID
	br.Host, br.Port = b.advertised(r.Conn)
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	resp.ClusterAuthorizedOperations = authorizedOpsNotRequested
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = b.clusterAuthorizedOperations(r)
	}
	return now(resp)
}
