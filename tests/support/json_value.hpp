// A minimal JSON reader for tests that check the tool's output: objects,
// arrays, strings, numbers, literals. Strict enough to reject malformed
// output (trailing characters, duplicate keys); \u escapes become '?'.
#pragma once

#include <cctype>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace shmq::test {

struct Value {
    enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
    double number = 0;
    bool boolean = false;
    std::string string;
    std::vector<Value> array;
    std::map<std::string, Value> object;

    bool has(const std::string& k) const { return kind == Kind::object && object.count(k) != 0; }
    const Value& operator[](const std::string& k) const {
        static const Value none;
        auto it = object.find(k);
        return it == object.end() ? none : it->second;
    }
};

class Parser {
public:
    explicit Parser(const std::string& s) : s_(s) {}
    Value parse() {
        Value v = value();
        ws();
        if (i_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) {
        throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(i_));
    }
    void ws() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) fail(std::string("expected '") + c + "'");
    }
    std::string str() {
        expect('"');
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\') {
                ++i_;
                if (i_ >= s_.size()) fail("bad escape");
                const char e = s_[i_];
                if (e == 'u') {
                    i_ += 4;  // the tool escapes only control characters; keep a placeholder
                    out += '?';
                } else {
                    out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
                }
                ++i_;
            } else {
                out += s_[i_++];
            }
        }
        expect('"');
        return out;
    }
    Value value() {
        ws();
        if (i_ >= s_.size()) fail("unexpected end");
        Value v;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.kind = Value::Kind::object;
            if (eat('}')) return v;
            do {
                ws();
                std::string k = str();
                expect(':');
                if (v.object.count(k)) fail("duplicate key " + k);
                v.object[k] = value();
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++i_;
            v.kind = Value::Kind::array;
            if (eat(']')) return v;
            do v.array.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.kind = Value::Kind::string;
            v.string = str();
        } else if (s_.compare(i_, 4, "true") == 0 || s_.compare(i_, 5, "false") == 0) {
            v.kind = Value::Kind::boolean;
            v.boolean = s_[i_] == 't';
            i_ += v.boolean ? 4 : 5;
        } else if (s_.compare(i_, 4, "null") == 0) {
            i_ += 4;
        } else {
            std::size_t used = 0;
            try {
                v.number = std::stod(s_.substr(i_, 32), &used);
            } catch (...) {
                fail("bad value");
            }
            v.kind = Value::Kind::number;
            i_ += used;
        }
        return v;
    }
    const std::string& s_;
    std::size_t i_ = 0;
};

inline Value parse_json_text(const std::string& text) { return Parser(text).parse(); }

}  // namespace shmq::test
