namespace Campus.Firmware.Common
{
    /// <summary>A message waiting to be published, or published and waiting for the broker's PUBACK.</summary>
    internal sealed class OutgoingMessage
    {
        public OutgoingMessage(string topic, byte[] payload, bool retain)
        {
            Topic = topic;
            Payload = payload;
            Retain = retain;
        }

        public string Topic { get; private set; }
        public byte[] Payload { get; private set; }
        public bool Retain { get; private set; }

        /// <summary>Handed to the client on the current connection.</summary>
        internal bool Sent;

        /// <summary>The client's message id while <see cref="Sent"/>.</summary>
        internal ushort MessageId;

        /// <summary>The broker acknowledged it (QoS 1 PUBACK).</summary>
        internal bool Acknowledged;

        /// <summary>Handed to the client at least once: any later attempt is a re-send and carries DUP.</summary>
        internal bool Attempted;
    }

    /// <summary>
    /// The device's outgoing messages, bounded, in RAM, in order. A message stays here until the
    /// broker acknowledges it, so what was made while the link was down — or was in flight when
    /// it broke — is sent again, in order, after the next connect. When full, the oldest message
    /// is dropped and counted (<see cref="Dropped"/>, reported in the status). Thread-safe.
    /// </summary>
    internal sealed class Outbox
    {
        private readonly object _sync = new object();
        private readonly OutgoingMessage[] _items;
        private int _head;
        private int _count;
        private int _sent; // messages from the head already handed to the client on this connection
        private long _dropped;

        public Outbox(int capacity)
        {
            if (capacity < 1) throw new System.ArgumentOutOfRangeException("capacity", "the outbox needs room for at least one message");
            _items = new OutgoingMessage[capacity];
        }

        public int Capacity
        {
            get { return _items.Length; }
        }

        /// <summary>Messages not yet acknowledged by the broker.</summary>
        public int Count
        {
            get { lock (_sync) return _count; }
        }

        /// <summary>Messages published on this connection and not yet acknowledged.</summary>
        public int InFlight
        {
            get { lock (_sync) return _sent; }
        }

        /// <summary>Messages dropped (oldest first) because the outbox was full, since boot.</summary>
        public long Dropped
        {
            get { lock (_sync) return _dropped; }
        }

        /// <summary>Adds a message; gives true when the oldest message had to be dropped to make room.</summary>
        public bool Enqueue(OutgoingMessage message)
        {
            lock (_sync)
            {
                bool dropped = false;
                if (_count == _items.Length)
                {
                    _head = (_head + 1) % _items.Length;
                    _count--;
                    if (_sent > 0) _sent--;
                    _dropped++;
                    dropped = true;
                }
                _items[(_head + _count) % _items.Length] = message;
                _count++;
                return dropped;
            }
        }

        /// <summary>The oldest message not yet sent on this connection, when fewer than <paramref name="window"/> are in flight.</summary>
        public bool TryTakeNext(int window, out OutgoingMessage message)
        {
            lock (_sync)
            {
                if (_sent >= _count || _sent >= window)
                {
                    message = Empty;
                    return false;
                }
                message = _items[(_head + _sent) % _items.Length];
                return true;
            }
        }

        /// <summary>Records that <paramref name="message"/> (from <see cref="TryTakeNext"/>) went out with <paramref name="messageId"/>.</summary>
        public void MarkSent(OutgoingMessage message, ushort messageId)
        {
            lock (_sync)
            {
                if (_sent >= _count || _items[(_head + _sent) % _items.Length] != message) return; // dropped meanwhile
                message.Sent = true;
                message.MessageId = messageId;
                _sent++;
                if (messageId == 0) message.Acknowledged = true; // QoS 0: nothing to wait for
                RemoveAcknowledgedHead();
            }
        }

        /// <summary>The broker acknowledged <paramref name="messageId"/>: release it and every acknowledged message before it.</summary>
        public bool Acknowledge(ushort messageId)
        {
            lock (_sync)
            {
                for (int i = 0; i < _sent; i++)
                {
                    OutgoingMessage m = _items[(_head + i) % _items.Length];
                    if (m.MessageId == messageId && !m.Acknowledged)
                    {
                        m.Acknowledged = true;
                        RemoveAcknowledgedHead();
                        return true;
                    }
                }
                return false;
            }
        }

        /// <summary>The connection ended: everything unacknowledged is sent again on the next one.</summary>
        public void ResendUnacknowledged()
        {
            lock (_sync)
            {
                for (int i = 0; i < _sent; i++)
                {
                    OutgoingMessage m = _items[(_head + i) % _items.Length];
                    m.Sent = false;
                    m.MessageId = 0;
                }
                _sent = 0;
            }
        }

        private void RemoveAcknowledgedHead()
        {
            while (_sent > 0 && _items[_head].Acknowledged)
            {
                _items[_head] = Empty;
                _head = (_head + 1) % _items.Length;
                _count--;
                _sent--;
            }
        }

        private static readonly OutgoingMessage Empty = new OutgoingMessage("", new byte[0], false);
    }
}
