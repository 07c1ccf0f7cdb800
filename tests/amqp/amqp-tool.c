/*
 * amqp-tool.c - the tests' side of a RabbitMQ broker, with librabbitmq
 * (the same client library spoolerd uses, on the other end): declare
 * the topology, count a queue, and take every message out of it with
 * its properties, so tests/amqp/suite can compare them byte for byte.
 *
 *   amqp-tool PORT USER PASS CMD ARGS...
 *     ping                       connect and log in (exit 0 when up)
 *     exchange NAME TYPE         declare a durable exchange
 *     queue NAME                 declare a durable queue
 *     bind QUEUE EXCHANGE KEY    bind it
 *     count QUEUE                print its message count
 *     drain QUEUE DIR            basic.get each message (auto-ack) into
 *                                DIR/NNNNNN: "name: value" lines
 *                                (exchange, routing_key, message_id,
 *                                delivery_mode, content_type, and
 *                                header.NAME per header, an array's items
 *                                one line each), an empty line, the body.
 * Values are printed as they are: the tests send printable envelopes.
 * Exit 0, 1 on a broker error (printed on stderr), 2 on usage.
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* die_reply - report a failed RPC and exit 1 */
static void die_reply(const char *what, amqp_rpc_reply_t r)
{
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		fprintf(stderr, "amqp-tool: %s: %s\n", what,
			amqp_error_string2(r.library_error));
	} else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		   r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *c = r.reply.decoded;

		fprintf(stderr, "amqp-tool: %s: %u %.*s\n", what,
			c->reply_code, (int)c->reply_text.len,
			(char *)c->reply_text.bytes);
	} else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		   r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = r.reply.decoded;

		fprintf(stderr, "amqp-tool: %s: %u %.*s\n", what,
			c->reply_code, (int)c->reply_text.len,
			(char *)c->reply_text.bytes);
	} else {
		fprintf(stderr, "amqp-tool: %s: failed\n", what);
	}
	exit(1);
}

/* check - exit unless the last RPC went through */
static void check(amqp_connection_state_t c, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);

	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		die_reply(what, r);
}

/* put_bytes - "name: value\n" */
static void put_bytes(FILE *f, const char *name, amqp_bytes_t b)
{
	fprintf(f, "%s: %.*s\n", name, (int)b.len, (char *)b.bytes);
}

/* put_value - one header value (strings, arrays of them, numbers) */
static void put_value(FILE *f, amqp_bytes_t key, const amqp_field_value_t *v)
{
	int i;

	switch (v->kind) {
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		fprintf(f, "header.%.*s: %.*s\n", (int)key.len,
			(char *)key.bytes, (int)v->value.bytes.len,
			(char *)v->value.bytes.bytes);
		break;
	case AMQP_FIELD_KIND_ARRAY:
		for (i = 0; i < v->value.array.num_entries; i++)
			put_value(f, key, &v->value.array.entries[i]);
		break;
	default:
		fprintf(f, "header.%.*s: (kind %c)\n", (int)key.len,
			(char *)key.bytes, v->kind);
	}
}

/* drain - every message of queue into dir; prints how many */
static void drain(amqp_connection_state_t c, const char *queue,
		  const char *dir)
{
	unsigned long n = 0;

	for (;;) {
		amqp_rpc_reply_t r;
		amqp_message_t m;
		amqp_basic_get_ok_t *ok;
		amqp_basic_properties_t *p;
		char path[4096];
		FILE *f;
		int i;

		r = amqp_basic_get(c, 1, amqp_cstring_bytes(queue), 1);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
			die_reply("basic.get", r);
		if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
			break;
		ok = r.reply.decoded;
		snprintf(path, sizeof(path), "%s/%06lu", dir, n++);
		f = fopen(path, "wb");
		if (!f) {
			perror(path);
			exit(1);
		}
		put_bytes(f, "exchange", ok->exchange);
		put_bytes(f, "routing_key", ok->routing_key);
		fprintf(f, "redelivered: %d\n", ok->redelivered);
		r = amqp_read_message(c, 1, &m, 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
			die_reply("read message", r);
		p = &m.properties;
		if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
			put_bytes(f, "message_id", p->message_id);
		if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
			put_bytes(f, "content_type", p->content_type);
		if (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
			fprintf(f, "delivery_mode: %u\n", p->delivery_mode);
		if (p->_flags & AMQP_BASIC_APP_ID_FLAG)
			put_bytes(f, "app_id", p->app_id);
		if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
			for (i = 0; i < p->headers.num_entries; i++)
				put_value(f, p->headers.entries[i].key,
					  &p->headers.entries[i].value);
		fputc('\n', f);
		fwrite(m.body.bytes, 1, m.body.len, f);
		if (fclose(f) != 0) {
			perror(path);
			exit(1);
		}
		amqp_destroy_message(&m);
		amqp_maybe_release_buffers(c);
	}
	printf("%lu\n", n);
}

int main(int argc, char **argv)
{
	struct timeval tv = {5, 0};
	amqp_connection_state_t c;
	amqp_socket_t *s;
	amqp_rpc_reply_t r;
	const char *cmd;
	char *end;
	long port;

	if (argc < 5) {
		fprintf(stderr, "usage: amqp-tool PORT USER PASS CMD ...\n");
		return 2;
	}
	cmd = argv[4];
	c = amqp_new_connection();
	s = amqp_tcp_socket_new(c);
	port = strtol(argv[1], &end, 10);
	if (*end || port <= 0 || port > 65535) {
		fprintf(stderr, "amqp-tool: bad port %s\n", argv[1]);
		return 2;
	}
	if (!s || amqp_socket_open_noblock(s, "127.0.0.1", (int)port, &tv) !=
			  AMQP_STATUS_OK) {
		fprintf(stderr, "amqp-tool: cannot connect to 127.0.0.1:%s\n",
			argv[1]);
		return 1;
	}
	amqp_set_rpc_timeout(c, &tv);
	r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, argv[2],
		       argv[3]);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
		die_reply("login", r);
	amqp_channel_open(c, 1);
	check(c, "channel.open");
	if (!strcmp(cmd, "ping") && argc == 5) {
		;
	} else if (!strcmp(cmd, "exchange") && argc == 7) {
		amqp_exchange_declare(c, 1, amqp_cstring_bytes(argv[5]),
				      amqp_cstring_bytes(argv[6]), 0, 1, 0, 0,
				      amqp_empty_table);
		check(c, "exchange.declare");
	} else if (!strcmp(cmd, "queue") && argc == 6) {
		amqp_queue_declare(c, 1, amqp_cstring_bytes(argv[5]), 0, 1, 0,
				   0, amqp_empty_table);
		check(c, "queue.declare");
	} else if (!strcmp(cmd, "bind") && argc == 8) {
		amqp_queue_bind(c, 1, amqp_cstring_bytes(argv[5]),
				amqp_cstring_bytes(argv[6]),
				amqp_cstring_bytes(argv[7]), amqp_empty_table);
		check(c, "queue.bind");
	} else if (!strcmp(cmd, "count") && argc == 6) {
		amqp_queue_declare_ok_t *ok = amqp_queue_declare(
			c, 1, amqp_cstring_bytes(argv[5]), 1, 0, 0, 0,
			amqp_empty_table);

		check(c, "queue.declare passive");
		printf("%u\n", ok->message_count);
	} else if (!strcmp(cmd, "drain") && argc == 7) {
		drain(c, argv[5], argv[6]);
	} else {
		fprintf(stderr, "amqp-tool: bad command %s\n", cmd);
		return 2;
	}
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return 0;
}
