using System.Collections.Concurrent;

namespace Campus.Mqtt.Server.Routing;

/// <summary>The last retained message of each topic (MQTT 3.1.1, section 3.3.1.3).</summary>
internal sealed class RetainedStore
{
    private readonly ConcurrentDictionary<string, StoredMessage> _messages = new(StringComparer.Ordinal);

    public int Count => _messages.Count;

    /// <summary>Stores <paramref name="message"/>, or clears the topic when its payload is empty.</summary>
    public void Apply(StoredMessage message)
    {
        if (message.Payload.Length == 0) _messages.TryRemove(message.Topic, out _);
        else _messages[message.Topic] = message;
    }

    /// <summary>Clears the retained message of <paramref name="topic"/>.</summary>
    public void Clear(string topic) => _messages.TryRemove(topic, out _);

    /// <summary>The retained messages whose topic <paramref name="filter"/> matches.</summary>
    public List<StoredMessage> Match(string filter)
    {
        var result = new List<StoredMessage>();
        if (_messages.IsEmpty) return result;
        foreach (var (topic, message) in _messages)
        {
            if (TopicMatch.Matches(filter, topic)) result.Add(message);
        }
        return result;
    }
}
