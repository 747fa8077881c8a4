using System.Data;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace Campus.Grains.Storage;

/// <summary>
/// The write path of <see cref="PostgresGrainStorage"/>: callers queue writes and await their own
/// outcome; one loop takes whatever is queued (up to a bound) and stores it in one round trip on its own
/// connection. Nothing waits for a batch to fill: a batch is what queued while the previous round trip
/// ran, so a lone write goes out at once.
/// </summary>
/// <remarks>
/// A batch is one <see cref="NpgsqlBatch"/> (one implicit transaction) of at most two statements: a
/// multi-row INSERT of the writes without an etag and a multi-row UPDATE of those with one, each row
/// matched on its key and expected version. A write whose row comes back succeeded; one that does not
/// met another version (the caller looks it up and throws, as a single statement would). Two writes of
/// one state never share a batch (an UPDATE ... FROM with two source rows for one target row applies one
/// of them): the later one waits for the next batch, in order. A batch the server refuses for its data
/// (a <see cref="PostgresException"/> on a connection still open) is retried write by write, so only the
/// bad write fails; a connection failure fails the batch's writes with that exception and the next batch
/// opens a new connection.
/// </remarks>
internal sealed class PostgresStateWriter : IAsyncDisposable
{
    private const string InsertSql = """
        INSERT INTO grain_state (grain_type, grain_key, state_name, version, payload, modified_utc)
        SELECT u.t, u.k, u.s, 1, u.p, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS u(t, k, s, p)
        ON CONFLICT DO NOTHING
        RETURNING grain_type, grain_key, state_name
        """;

    private const string UpdateSql = """
        UPDATE grain_state g SET version = g.version + 1, payload = u.p, modified_utc = now()
        FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[]) WITH ORDINALITY AS u(t, k, s, p, v, i)
        WHERE g.grain_type = u.t AND g.grain_key = u.k AND g.state_name = u.s AND g.version = u.v
        RETURNING u.i
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly int _maxBatch;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    // Owned by the loop alone.
    private readonly List<PendingWrite> _batch;
    private readonly Dictionary<(string Type, string Key, string State), int> _positions;
    private List<PendingWrite> _carry = [];
    private List<PendingWrite> _carried = [];
    private readonly List<PendingWrite> _single = new(1);
    private readonly List<PendingWrite> _inserts;
    private readonly List<PendingWrite> _updates;
    private readonly Columns _insertColumns;
    private readonly Columns _updateColumns;
    private NpgsqlConnection? _connection;
    private NpgsqlBatch? _insertOnly;
    private NpgsqlBatch? _updateOnly;
    private NpgsqlBatch? _insertAndUpdate;
    private long _batches;
    private long _retried;

    public PostgresStateWriter(NpgsqlDataSource dataSource, int maxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _dataSource = dataSource;
        _maxBatch = maxBatch;
        _batch = new List<PendingWrite>(maxBatch);
        _positions = new Dictionary<(string, string, string), int>(maxBatch);
        _inserts = new List<PendingWrite>(maxBatch);
        _updates = new List<PendingWrite>(maxBatch);
        _insertColumns = new Columns(maxBatch);
        _updateColumns = new Columns(maxBatch);
        _loop = Task.Run(RunAsync);
    }

    public long Batches => Interlocked.Read(ref _batches);

    public long BatchesRetriedOneByOne => Interlocked.Read(ref _retried);

    /// <summary>
    /// Queues a write; true when it was stored, false when the stored version was not
    /// <paramref name="expected"/> (or, with no expected version, a record existed). Throws what the
    /// server or the connection threw for it.
    /// </summary>
    public Task<bool> WriteAsync(string grainType, string grainKey, string stateName, string json, long? expected)
    {
        var write = new PendingWrite(grainType, grainKey, stateName, json, expected);
        if (!_queue.Writer.TryWrite(write))
            throw new ObjectDisposedException(nameof(PostgresGrainStorage), "The grain storage was disposed; no more writes are taken.");
        return write.Task;
    }

    /// <summary>Takes no more writes, lets the loop store (or fail) those queued, then closes its connection.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (_carry.Count > 0 || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            TakeBatch(reader);
            try
            {
                await StoreBatchAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // StoreBatchAsync settles every write itself; this is the guard that keeps the loop alive.
                Fail(_batch, 0, e);
                await DropConnectionAsync().ConfigureAwait(false);
            }
        }
        await DropConnectionAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Fills <see cref="_batch"/>: first the writes held back from the last batch, then the queue, up
    /// to the bound. A write of a state already in the batch is held back for the next one.
    /// </summary>
    private void TakeBatch(ChannelReader<PendingWrite> reader)
    {
        _batch.Clear();
        _positions.Clear();
        (_carried, _carry) = (_carry, _carried);
        foreach (var write in _carried)
            Admit(write);
        _carried.Clear();
        while (_batch.Count < _maxBatch && reader.TryRead(out var write))
            Admit(write);
    }

    private void Admit(PendingWrite write)
    {
        if (_batch.Count < _maxBatch && _positions.TryAdd((write.GrainType, write.GrainKey, write.StateName), _batch.Count))
            _batch.Add(write);
        else
            _carry.Add(write);
    }

    private async Task StoreBatchAsync()
    {
        Interlocked.Increment(ref _batches);
        try
        {
            await ExecuteAsync(_batch).ConfigureAwait(false);
            Succeed(_batch);
            return;
        }
        catch (PostgresException e) when (IsRefusedData(e))
        {
            if (_batch.Count == 1)
            {
                _batch[0].TrySetException(e);
                return;
            }
        }
        catch (Exception e)
        {
            Fail(_batch, 0, e);
            await DropConnectionAsync().ConfigureAwait(false);
            return;
        }

        // The server refused something in the batch: one write at a time, so that only the bad one fails.
        Interlocked.Increment(ref _retried);
        for (var i = 0; i < _batch.Count; i++)
        {
            _single.Clear();
            _single.Add(_batch[i]);
            try
            {
                await ExecuteAsync(_single).ConfigureAwait(false);
                Succeed(_single);
            }
            catch (PostgresException e) when (IsRefusedData(e))
            {
                _batch[i].TrySetException(e);
            }
            catch (Exception e)
            {
                Fail(_batch, i, e);
                await DropConnectionAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    /// <summary>
    /// An error about what was sent, on a connection that is still fine (not a lost connection, a server
    /// shutting down, a cancelled statement or a server out of resources).
    /// </summary>
    private bool IsRefusedData(PostgresException e) =>
        _connection is { FullState: ConnectionState.Open }
        && !e.SqlState.StartsWith("08", StringComparison.Ordinal)  // connection exception
        && !e.SqlState.StartsWith("53", StringComparison.Ordinal)  // insufficient resources
        && !e.SqlState.StartsWith("57", StringComparison.Ordinal)  // operator intervention, statement timeout
        && !e.SqlState.StartsWith("58", StringComparison.Ordinal)  // system error
        && !e.SqlState.StartsWith("XX", StringComparison.Ordinal); // internal error

    /// <summary>Stores <paramref name="writes"/> in one round trip and marks those that were written.</summary>
    private async Task ExecuteAsync(List<PendingWrite> writes)
    {
        _inserts.Clear();
        _updates.Clear();
        _insertColumns.Clear();
        _updateColumns.Clear();
        for (var i = 0; i < writes.Count; i++)
        {
            var w = writes[i];
            w.Written = false;
            if (w.Expected is { } version)
            {
                _updates.Add(w);
                _updateColumns.Add(w, version);
            }
            else
            {
                _inserts.Add(w);
                _insertColumns.Add(w, 0);
            }
        }

        var connection = _connection ??= await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
        var batch = _inserts.Count == 0 ? _updateOnly ??= await PrepareAsync(connection, update: true, insert: false).ConfigureAwait(false)
            : _updates.Count == 0 ? _insertOnly ??= await PrepareAsync(connection, update: false, insert: true).ConfigureAwait(false)
            : _insertAndUpdate ??= await PrepareAsync(connection, update: true, insert: true).ConfigureAwait(false);
        try
        {
            await using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            if (_inserts.Count > 0)
            {
                while (await reader.ReadAsync().ConfigureAwait(false))
                {
                    // Every key is in the batch once (see TakeBatch).
                    if (_positions.TryGetValue((reader.GetString(0), reader.GetString(1), reader.GetString(2)), out var at))
                        _batch[at].Written = true;
                }
                await reader.NextResultAsync().ConfigureAwait(false);
            }
            if (_updates.Count > 0)
            {
                while (await reader.ReadAsync().ConfigureAwait(false))
                    _updates[(int)reader.GetInt64(0) - 1].Written = true;
            }
        }
        catch
        {
            // The implicit transaction rolled back: nothing of this round trip was written.
            for (var i = 0; i < writes.Count; i++)
                writes[i].Written = false;
            throw;
        }
    }

    private async Task<NpgsqlBatch> PrepareAsync(NpgsqlConnection connection, bool update, bool insert)
    {
        var batch = new NpgsqlBatch(connection);
        if (insert)
            batch.BatchCommands.Add(_insertColumns.Command(InsertSql, withVersions: false));
        if (update)
            batch.BatchCommands.Add(_updateColumns.Command(UpdateSql, withVersions: true));
        // Prepared once per connection: the parameters read the reused column lists.
        await batch.PrepareAsync().ConfigureAwait(false);
        return batch;
    }

    private async Task DropConnectionAsync()
    {
        var batches = (_insertOnly, _updateOnly, _insertAndUpdate);
        _insertOnly = _updateOnly = _insertAndUpdate = null;
        var connection = _connection;
        _connection = null;
        try
        {
            batches.Item1?.Dispose();
            batches.Item2?.Dispose();
            batches.Item3?.Dispose();
            if (connection is not null)
                await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Whatever closing a broken connection throws, it is dropped and the loop goes on; the next
            // batch opens a new one.
        }
    }

    private static void Succeed(List<PendingWrite> writes)
    {
        for (var i = 0; i < writes.Count; i++)
            writes[i].TrySetResult(writes[i].Written);
    }

    private static void Fail(List<PendingWrite> writes, int from, Exception e)
    {
        for (var i = from; i < writes.Count; i++)
            writes[i].TrySetException(e);
    }

    /// <summary>A queued write and its outcome (true: written; false: another version was stored).</summary>
    private sealed class PendingWrite(string grainType, string grainKey, string stateName, string json, long? expected)
        : TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public string GrainType { get; } = grainType;
        public string GrainKey { get; } = grainKey;
        public string StateName { get; } = stateName;
        public string Json { get; } = json;
        public long? Expected { get; } = expected;
        public bool Written { get; set; }
    }

    /// <summary>The column arrays of one statement, reused from batch to batch.</summary>
    private sealed class Columns(int capacity)
    {
        private readonly List<string> _types = new(capacity);
        private readonly List<string> _keys = new(capacity);
        private readonly List<string> _states = new(capacity);
        private readonly List<string> _payloads = new(capacity);
        private readonly List<long> _versions = new(capacity);

        public void Clear()
        {
            _types.Clear();
            _keys.Clear();
            _states.Clear();
            _payloads.Clear();
            _versions.Clear();
        }

        public void Add(PendingWrite w, long version)
        {
            _types.Add(w.GrainType);
            _keys.Add(w.GrainKey);
            _states.Add(w.StateName);
            _payloads.Add(w.Json);
            _versions.Add(version);
        }

        public NpgsqlBatchCommand Command(string sql, bool withVersions)
        {
            var cmd = new NpgsqlBatchCommand(sql);
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = _types });
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = _keys });
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, Value = _states });
            cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = _payloads });
            if (withVersions)
                cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, Value = _versions });
            return cmd;
        }
    }
}
