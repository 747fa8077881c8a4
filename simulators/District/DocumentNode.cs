using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Campus.Simulators.District;

/// <summary>A node of a YAML or JSON document with the line and column where it starts (1-based).</summary>
internal abstract record DocNode(int Line, int Column);

internal sealed record DocScalar(int Line, int Column, string Value, bool Quoted) : DocNode(Line, Column);

internal sealed record DocSequence(int Line, int Column, IReadOnlyList<DocNode> Items) : DocNode(Line, Column);

internal sealed record DocMap(int Line, int Column, IReadOnlyList<(DocScalar Key, DocNode Value)> Entries) : DocNode(Line, Column);

/// <summary>A district file that cannot be used, with the place and the field at fault.</summary>
public sealed class DistrictFileException(string file, int line, int column, string field, string problem)
    : Exception($"{file}:{line}:{column}: {field}: {problem}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
    public int Column { get; } = column;

    /// <summary>The path of the field, e.g. <c>schools[0].rooms[2].kind</c>.</summary>
    public string Field { get; } = field;

    public string Problem { get; } = problem;
}

/// <summary>Reads YAML (YamlDotNet's representation model) or JSON (Utf8JsonReader) into <see cref="DocNode"/>s.</summary>
internal static class DocumentReader
{
    public static DocNode ReadYaml(string text, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new DistrictFileException(file, (int)e.Start.Line, (int)e.Start.Column, "(document)", "not valid YAML: " + Inner(e));
        }

        if (stream.Documents.Count == 0) throw new DistrictFileException(file, 1, 1, "(document)", "the file is empty");
        return Convert(stream.Documents[0].RootNode, file);
    }

    private static string Inner(Exception e) => e.InnerException is null ? e.Message : e.InnerException.Message;

    private static DocNode Convert(YamlNode node, string file)
    {
        int line = (int)node.Start.Line, col = (int)node.Start.Column;
        switch (node)
        {
            case YamlScalarNode s:
                return new DocScalar(line, col, s.Value ?? "", s.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted);
            case YamlSequenceNode q:
                return new DocSequence(line, col, q.Children.Select(c => Convert(c, file)).ToList());
            case YamlMappingNode m:
                var entries = new List<(DocScalar, DocNode)>();
                foreach (var (k, v) in m.Children)
                {
                    if (Convert(k, file) is not DocScalar key) throw new DistrictFileException(file, (int)k.Start.Line, (int)k.Start.Column, "(key)", "a key must be a plain name");
                    entries.Add((key, Convert(v, file)));
                }

                return new DocMap(line, col, entries);
            default:
                throw new DistrictFileException(file, line, col, "(document)", "aliases and anchors are not supported");
        }
    }

    public static DocNode ReadJson(string text, string file)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\n') lineStarts.Add(i + 1);
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = false });
        try
        {
            if (!reader.Read()) throw new DistrictFileException(file, 1, 1, "(document)", "the file is empty");
            return ReadJsonValue(ref reader, lineStarts);
        }
        catch (JsonException e)
        {
            throw new DistrictFileException(file, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1, "(document)", "not valid JSON: " + e.Message);
        }
    }

    private static (int Line, int Column) Position(long offset, List<int> lineStarts)
    {
        int index = lineStarts.BinarySearch((int)offset);
        if (index < 0) index = ~index - 1;
        return (index + 1, (int)offset - lineStarts[index] + 1);
    }

    private static DocNode ReadJsonValue(ref Utf8JsonReader reader, List<int> lineStarts)
    {
        var (line, col) = Position(reader.TokenStartIndex, lineStarts);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var entries = new List<(DocScalar, DocNode)>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var (kl, kc) = Position(reader.TokenStartIndex, lineStarts);
                    var key = new DocScalar(kl, kc, reader.GetString()!, true);
                    reader.Read();
                    entries.Add((key, ReadJsonValue(ref reader, lineStarts)));
                }

                return new DocMap(line, col, entries);
            case JsonTokenType.StartArray:
                var items = new List<DocNode>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadJsonValue(ref reader, lineStarts));
                }

                return new DocSequence(line, col, items);
            case JsonTokenType.String:
                return new DocScalar(line, col, reader.GetString()!, true);
            case JsonTokenType.Null:
                return new DocScalar(line, col, "", false);
            default:
                return new DocScalar(line, col, Encoding.UTF8.GetString(reader.ValueSpan), false);
        }
    }
}
