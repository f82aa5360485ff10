#include "json.hpp"

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace photo_pipeline::json {

const Value& Value::operator[](std::string_view key) const {
    static const Value none;
    auto it = object.find(key);
    return it == object.end() ? none : it->second;
}

namespace {

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Value document() {
        Value v = value();
        ws();
        if (i_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(std::string("malformed JSON from the shmq tool: ") + what + " at offset " +
                                 std::to_string(i_));
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
        if (!eat(c)) fail("unexpected character");
    }
    bool word(std::string_view w) {
        if (s_.substr(i_, w.size()) != w) return false;
        i_ += w.size();
        return true;
    }
    std::string string() {
        expect('"');
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (c == '\\') {
                if (i_ >= s_.size()) break;
                c = s_[i_++];
                switch (c) {
                    case 'n': c = '\n'; break;
                    case 't': c = '\t'; break;
                    case 'r': c = '\r'; break;
                    case 'b': c = '\b'; break;
                    case 'f': c = '\f'; break;
                    case 'u': i_ += 4; c = '?'; break;  // not needed here: keys and names are ASCII
                    default: break;                      // \" \\ \/
                }
            }
            out.push_back(c);
        }
        expect('"');
        return out;
    }
    Value value() {
        ws();
        Value v;
        if (i_ >= s_.size()) fail("unexpected end");
        const char c = s_[i_];
        if (c == '{') {
            v.kind = Value::Kind::object;
            ++i_;
            if (eat('}')) return v;
            do {
                ws();
                std::string key = string();
                expect(':');
                v.object.emplace(std::move(key), value());
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            v.kind = Value::Kind::array;
            ++i_;
            if (eat(']')) return v;
            do v.array.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.kind = Value::Kind::string;
            v.string = string();
        } else if (word("true") || word("false")) {
            v.kind = Value::Kind::boolean;
            v.boolean = c == 't';
        } else if (word("null")) {
        } else {
            const std::string rest(s_.substr(i_, 40));
            char* end = nullptr;
            v.kind = Value::Kind::number;
            v.number = std::strtod(rest.c_str(), &end);
            if (end == rest.c_str()) fail("expected a value");
            i_ += static_cast<std::size_t>(end - rest.c_str());
        }
        return v;
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

}  // namespace

Value parse(std::string_view text) { return Parser(text).document(); }

}  // namespace photo_pipeline::json
