package broker

import (
	"net"
	"net/netip"

	"github.com/tandem-streaming/tandem/internal/acl"
)

// requestContext is who sends r and from where, for the authorizer.
func requestContext(r *Request) acl.RequestContext {
	ctx := acl.RequestContext{}
	if r.Conn == nil {
		return ctx
	}
	ctx.Principal = r.Conn.Principal
	ctx.Listener = r.Conn.Listener
	if ta, ok := r.Conn.Remote.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			ctx.Host = ip.Unmap()
		}
	}
	return ctx
}

// authorized reports whether r's principal may perform op on res. With no
// authorizer configured every request is allowed (Kafka without
// authorizer.class.name).
func (b *Broker) authorized(r *Request, op acl.Operation, res acl.Resource) bool {
	if b.authorizer == nil {
		return true
	}
	return b.authorizer.Authorize(requestContext(r), op, res)
}
